"""Apply the current ownership rules to stored history (a reorg, retroactively)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from adoption.history import reresolve


class Command(BaseCommand):
    help = "Re-resolve tribe/squad of stored observations and rebuild their rollups."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--since", required=True, help="first day to rewrite (YYYY-MM-DD)")
        parser.add_argument("--cluster", action="append", default=[], help="only these clusters")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            since = date.fromisoformat(opts["since"])
        except ValueError:
            raise CommandError(f"--since must be YYYY-MM-DD, not {opts['since']!r}") from None
        count = reresolve(since, clusters=opts["cluster"] or None, progress=self.stdout.write)
        self.stdout.write(f"re-resolved {count} snapshot(s) since {since}")
