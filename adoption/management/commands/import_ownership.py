"""Import ownership rules from a CSV file, all or nothing.

Columns (header required): ``kind`` (tribe|squad), ``cluster``, ``namespace``, ``workload``,
``value``, optional ``priority`` and ``note``. Patterns are globs; empty means ``*``. A bad row
is reported with its line number and nothing is imported.
"""

from __future__ import annotations

import csv
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from adoption.models import OwnershipRule, RuleKind

REQUIRED = ("kind", "value")
KNOWN = {"kind", "cluster", "namespace", "workload", "value", "priority", "note"}


def parse_rows(lines: list[str]) -> list[OwnershipRule]:
    """Validate every row; raise `CommandError` listing each bad line (1-based, header = 1)."""
    reader = csv.DictReader(lines)
    header = set(reader.fieldnames or [])
    if not set(REQUIRED) <= header:
        raise CommandError(
            f"line 1: the header must name at least {', '.join(REQUIRED)}; got {sorted(header)}"
        )
    unknown = header - KNOWN
    if unknown:
        raise CommandError(f"line 1: unknown column(s) {', '.join(sorted(unknown))}")
    rules, errors = [], []
    seen: dict[tuple[str, str, str, str], int] = {}
    for row in reader:
        line = reader.line_num
        try:
            kind = (row.get("kind") or "").strip().lower()
            if kind not in RuleKind.values:
                raise ValueError(f"kind must be tribe or squad, not {row.get('kind')!r}")
            value = (row.get("value") or "").strip()
            if not value:
                raise ValueError("value is empty")
            priority_text = (row.get("priority") or "").strip() or "100"
            if not priority_text.isdigit() or int(priority_text) > 32767:
                raise ValueError(f"priority must be a whole number 0-32767, not {priority_text!r}")
            rule = OwnershipRule(
                kind=kind,
                cluster_pattern=(row.get("cluster") or "").strip() or "*",
                namespace_pattern=(row.get("namespace") or "").strip() or "*",
                workload_pattern=(row.get("workload") or "").strip() or "*",
                value=value,
                priority=int(priority_text),
                note=(row.get("note") or "").strip(),
            )
            if kind == RuleKind.TRIBE and rule.workload_pattern != "*":
                raise ValueError("tribe rules map namespaces; leave workload empty")
            rule.full_clean(validate_unique=False, validate_constraints=False)
            key = (rule.kind, rule.cluster_pattern, rule.namespace_pattern, rule.workload_pattern)
            if key in seen:
                raise ValueError(f"same patterns as line {seen[key]}")
            seen[key] = line
            rules.append(rule)
        except ValidationError as exc:
            errors.append(
                f"line {line}: "
                + "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            )
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        raise CommandError("nothing imported:\n" + "\n".join(errors))
    return rules


class Command(BaseCommand):
    help = "Import ownership rules (namespace→tribe, workload→squad) from CSV, all or nothing."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--replace", action="store_true", help="delete existing rules first")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        rules = parse_rows(text.splitlines())
        with transaction.atomic():
            if opts["replace"]:
                OwnershipRule.objects.all().delete()
            for rule in rules:
                OwnershipRule.objects.update_or_create(
                    kind=rule.kind,
                    cluster_pattern=rule.cluster_pattern,
                    namespace_pattern=rule.namespace_pattern,
                    workload_pattern=rule.workload_pattern,
                    defaults={"value": rule.value, "priority": rule.priority, "note": rule.note},
                )
        self.stdout.write(f"imported {len(rules)} rule(s) from {path}")
        self.stdout.write(
            "run `manage.py reresolve_ownership --since YYYY-MM-DD` to apply them to history"
        )
