"""Register (or update) one Cluster per context of a kubeconfig file."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError

from adoption.models import AuthMethod, Cluster


def guess_environment(name: str) -> str:
    for env in ("staging", "dev", "test", "qa"):
        if env in name:
            return "staging" if env == "staging" else env
    return "production"


class Command(BaseCommand):
    help = "Register one cluster per kubeconfig context (the file is referenced, never copied)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--kubeconfig", required=True, help="path to the kubeconfig file")
        parser.add_argument("--context", action="append", default=[], help="only these contexts")
        parser.add_argument("--interval", type=int, default=300, help="poll interval in seconds")
        parser.add_argument(
            "--environment", default="", help="environment for all (default: from the name)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["kubeconfig"]).resolve()
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"cannot read kubeconfig {path}: {type(exc).__name__}") from None
        if not isinstance(doc, dict):
            raise CommandError(f"{path} is not a kubeconfig (expected a mapping)")
        contexts = [c.get("name") for c in doc.get("contexts") or [] if isinstance(c, dict)]
        if opts["context"]:
            missing = set(opts["context"]) - set(contexts)
            if missing:
                raise CommandError(f"context(s) not in {path}: {', '.join(sorted(missing))}")
            contexts = opts["context"]
        if opts["interval"] < 10:
            raise CommandError("--interval must be at least 10 seconds")
        for ctx in contexts:
            name = str(ctx).lower().replace("_", "-")[:63]
            cluster, created = Cluster.objects.update_or_create(
                name=name,
                defaults={
                    "auth_method": AuthMethod.KUBECONFIG,
                    "kubeconfig_path": str(path),
                    "context": str(ctx),
                    "poll_interval": opts["interval"],
                    "environment": opts["environment"] or guess_environment(name),
                    "enabled": True,
                    "next_poll_at": None,
                },
            )
            cluster.full_clean()
            self.stdout.write(f"{'registered' if created else 'updated'} cluster {name} ({ctx})")
