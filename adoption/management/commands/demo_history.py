"""Back-fill the demo history against a running kubesim (docker-compose's one-shot demo job;
`meshboard quickstart` does the same for its own kubesim)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Poll kubesim at past simulated times (one poll per cluster and day), seed demo targets."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--kubesim-url", required=True, help="e.g. http://kubesim:8001")
        parser.add_argument("--admin-token-file", required=True)
        parser.add_argument("--days", type=int, default=180)
        parser.add_argument("--speed", type=float, default=1.0, help="clock speed afterwards")

    def handle(self, *args: Any, **opts: Any) -> None:
        from meshboard.quickstart import SimControl, backfill, seed_demo

        token = Path(opts["admin_token_file"])
        if not token.is_file():
            raise CommandError(f"no kubesim admin token at {token}")
        if not 0 < opts["days"] <= 3650:
            raise CommandError("--days must be between 1 and 3650")
        control = SimControl(opts["kubesim_url"], token)
        today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        if today > datetime.now(UTC):
            today -= timedelta(days=1)
        backfill(control, opts["days"], today)
        seed_demo(today)
        control.clock(at=datetime.now(UTC), speed=opts["speed"])
        self.stdout.write(f"back-filled {opts['days']} days")
