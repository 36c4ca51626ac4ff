"""Org mapping: which tribe owns a namespace and which squad owns a workload.

Resolved at poll time and stored with each observation. Explicit `OwnershipRule`s beat labels;
among rules the lowest priority wins, then the most specific pattern (fewest wildcards). Nothing
matched → "" (shown as "Unassigned").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

UNASSIGNED = "Unassigned"


@dataclass(frozen=True)
class Rule:
    kind: str  # "tribe" | "squad"
    cluster_pattern: str
    namespace_pattern: str
    workload_pattern: str
    value: str
    priority: int = 100

    @property
    def specificity(self) -> int:
        patterns = (self.cluster_pattern, self.namespace_pattern, self.workload_pattern)
        return -sum(p.count("*") + p.count("?") for p in patterns)


class Resolver:
    """Resolve tribe and squad names for one cluster."""

    def __init__(
        self,
        cluster: str,
        rules: Iterable[Rule],
        *,
        tribe_label: str = "tribe",
        squad_label: str = "squad",
    ) -> None:
        ordered = sorted(rules, key=lambda r: (r.priority, -r.specificity))
        self.cluster = cluster
        self.tribe_rules = [
            r for r in ordered if r.kind == "tribe" and fnmatchcase(cluster, r.cluster_pattern)
        ]
        self.squad_rules = [
            r for r in ordered if r.kind == "squad" and fnmatchcase(cluster, r.cluster_pattern)
        ]
        self.tribe_label = tribe_label
        self.squad_label = squad_label
        self._tribes: dict[str, str] = {}

    def tribe(self, namespace: str, labels: Mapping[str, str] | None) -> str:
        cached = self._tribes.get(namespace)
        if cached is not None:
            return cached
        value = next(
            (r.value for r in self.tribe_rules if fnmatchcase(namespace, r.namespace_pattern)), None
        )
        if value is None:
            value = str((labels or {}).get(self.tribe_label, "") or "")[:100]
        self._tribes[namespace] = value
        return value

    def squad(self, namespace: str, workload: str, labels: Mapping[str, str] | None) -> str:
        for r in self.squad_rules:
            if fnmatchcase(namespace, r.namespace_pattern) and fnmatchcase(
                workload, r.workload_pattern
            ):
                return r.value
        return str((labels or {}).get(self.squad_label, "") or "")[:100]


def resolver_for(cluster_name: str) -> Resolver:
    """A resolver from the current `OwnershipRule`s and label settings."""
    from django.conf import settings

    from .models import OwnershipRule

    rules = [
        Rule(
            r.kind, r.cluster_pattern, r.namespace_pattern, r.workload_pattern, r.value, r.priority
        )
        for r in OwnershipRule.objects.all()
    ]
    return Resolver(
        cluster_name,
        rules,
        tribe_label=settings.CLUSTER_LABEL_TRIBE,
        squad_label=settings.CLUSTER_LABEL_SQUAD,
    )
