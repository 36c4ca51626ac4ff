"""Snapshot writes and rollups.

`write_snapshot` stores one classified poll in the caller's transaction: workload observations
by COPY, namespace observations by bulk insert, then the per-snapshot rollup and the day's
rollup (the cluster's last good snapshot of that day). `rollup_counts` is the one place that
turns observations into the counts every page, chart and export reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from django.db import connection

from .models import (
    DailyRollup,
    DailyTotal,
    DailyTribeTotal,
    NamespaceObservation,
    RollupCounts,
    Snapshot,
    SnapshotRollup,
    Squad,
    Tribe,
    WorkloadObservation,
)

MESHED = "meshed"
COUNT_FIELDS = [
    f.name
    for f in RollupCounts._meta.get_fields()
    if f.name not in ("id", "tribe", "squad") and f.concrete
]
ENABLED_NAMESPACE_CLASSES = frozenset(
    {"sidecar-default", "sidecar-revision", "ambient", "implicit-default"}
)
STATE_COUNTER = {
    "partial": "workloads_partial",
    "missing-proxy": "workloads_missing",
    "opted-out": "workloads_opted_out",
    "ineligible": "workloads_ineligible",
    "not-enrolled": "workloads_not_enrolled",
    "ambient-pending": "workloads_ambient_pending",
}


@dataclass
class WorkloadRow:
    """One workload as stored (classifier record + tribe/squad)."""

    namespace: str
    kind: str
    name: str
    tribe: str
    squad: str
    system: bool
    state: str
    squad_label: str = ""
    reason: str = ""
    pods_total: int = 0
    pods_meshed: int = 0
    pods_missing: int = 0
    mesh_mode: str = "none"
    injection_expected: bool = False
    revision_requested: str = ""
    revision_used: str = ""
    proxy_versions: list[str] | None = None
    control_plane_version: str = ""
    behind: bool = False
    proxy_cpu_request_m: int = 0
    proxy_cpu_limit_m: int = 0
    proxy_memory_request_b: int = 0
    proxy_memory_limit_b: int = 0
    missing_since: datetime | None = None
    services: list[str] | None = None
    has_virtualservice: bool = False
    has_destinationrule: bool = False
    timeout: bool = False
    retries: bool = False
    fault: bool = False
    circuit_breaking: bool = False
    outlier_detection: bool = False
    mtls_mode: str = "UNSET"
    diagnostics: list[str] | None = None
    waived: bool = False


@dataclass
class NamespaceRow:
    namespace: str
    tribe: str
    injection: str
    revision: str
    system: bool
    pods_total: int = 0
    pods_meshed: int = 0
    workloads_total: int = 0
    workloads_meshed: int = 0
    conflicts: list[str] | None = None
    labels: dict[str, str] | None = None


def rollup_counts(
    workloads: Iterable[WorkloadRow], namespaces: Iterable[NamespaceRow]
) -> dict[tuple[str, str], dict[str, int]]:
    """Counts per (tribe, squad) of one snapshot (system namespaces left out)."""
    groups: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(COUNT_FIELDS, 0)
    )
    for w in workloads:
        if w.system:
            continue
        g = groups[(w.tribe, w.squad)]
        g["pods_total"] += w.pods_total
        g["pods_meshed"] += w.pods_meshed
        g["proxy_cpu_request_m"] += w.proxy_cpu_request_m
        g["proxy_memory_request_b"] += w.proxy_memory_request_b
        if w.pods_total == 0 or w.state == "idle":
            g["workloads_idle"] += 1
            continue
        g["workloads_total"] += 1
        if w.state == MESHED:
            g["workloads_meshed"] += 1
            g["workloads_behind"] += w.behind
            if w.services:
                g["meshed_with_service"] += 1
                g["resilience_timeouts"] += w.timeout
                g["resilience_retries"] += w.retries
                g["resilience_circuit_breaking"] += w.circuit_breaking
                g["resilience_outlier_detection"] += w.outlier_detection
        elif w.state in STATE_COUNTER:
            g[STATE_COUNTER[w.state]] += 1
        if w.waived and w.state not in ("meshed", "opted-out", "ineligible"):
            g["workloads_waived"] += 1
    for ns in namespaces:
        if ns.system:
            continue
        g = groups[(ns.tribe, "")]
        g["namespaces_total"] += 1
        g["namespaces_enabled"] += ns.injection in ENABLED_NAMESPACE_CLASSES
    return dict(groups)


_WL_COLUMNS = [f.name for f in fields(WorkloadRow)]
_JSON_COLUMNS = {"proxy_versions", "services", "diagnostics"}


def _copy_workloads(snapshot: Snapshot, rows: list[WorkloadRow]) -> None:
    """COPY workload observations (10× faster than bulk_create at 50k rows)."""
    table = WorkloadObservation._meta.db_table
    columns = ["snapshot_id", "cluster_id", "observed_at", *_WL_COLUMNS]
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            values: list[Any] = [snapshot.pk, snapshot.cluster_id, snapshot.started_at]
            for name in _WL_COLUMNS:
                v = getattr(row, name)
                if name in _JSON_COLUMNS:
                    v = json.dumps(v or [])
                values.append(v)
            copy.write_row(values)


def _ensure_org(workloads: list[WorkloadRow], namespaces: list[NamespaceRow]) -> None:
    """Create Tribe/Squad rows for names seen for the first time (the org chart grows itself)."""
    tribes = {n.tribe for n in namespaces if n.tribe} | {w.tribe for w in workloads if w.tribe}
    known = set(Tribe.objects.filter(name__in=tribes).values_list("name", flat=True))
    Tribe.objects.bulk_create(
        [Tribe(name=t) for t in sorted(tribes - known)], ignore_conflicts=True
    )
    pairs = {(w.tribe, w.squad) for w in workloads if w.tribe and w.squad}
    if pairs:
        ids = dict(Tribe.objects.filter(name__in={t for t, _ in pairs}).values_list("name", "id"))
        Squad.objects.bulk_create(
            [Squad(tribe_id=ids[t], name=s) for t, s in sorted(pairs) if t in ids],
            ignore_conflicts=True,
        )


def write_snapshot(
    snapshot: Snapshot, workloads: list[WorkloadRow], namespaces: list[NamespaceRow]
) -> None:
    """Store one poll's observations and rollups. Call inside `transaction.atomic()`."""
    _copy_workloads(snapshot, workloads)
    NamespaceObservation.objects.bulk_create(
        NamespaceObservation(
            snapshot=snapshot,
            cluster_id=snapshot.cluster_id,
            observed_at=snapshot.started_at,
            **{**asdict(ns), "conflicts": ns.conflicts or [], "labels": ns.labels or {}},
        )
        for ns in namespaces
    )
    _ensure_org(workloads, namespaces)
    counts = rollup_counts(workloads, namespaces)
    write_rollups(snapshot, counts)


def write_rollups(snapshot: Snapshot, counts: Mapping[tuple[str, str], Mapping[str, int]]) -> None:
    """Per-snapshot rollup rows, and the day's rows when this is the day's latest good snapshot:
    per (tribe, squad) group, per tribe (`DailyTribeTotal`) and per cluster (`DailyTotal`)."""
    SnapshotRollup.objects.filter(snapshot=snapshot).delete()
    SnapshotRollup.objects.bulk_create(
        SnapshotRollup(
            snapshot=snapshot,
            cluster_id=snapshot.cluster_id,
            observed_at=snapshot.started_at,
            tribe=tribe,
            squad=squad,
            **c,
        )
        for (tribe, squad), c in counts.items()
    )
    day = snapshot.started_at.date()
    later = DailyTotal.objects.filter(
        day=day, cluster_id=snapshot.cluster_id, observed_at__gt=snapshot.started_at
    )
    if later.exists():  # (DailyTotal: an empty snapshot writes no DailyRollup row, but this)
        return  # a later snapshot of that day already stands for it (back-fill out of order)
    DailyRollup.objects.filter(day=day, cluster_id=snapshot.cluster_id).delete()
    totals = dict.fromkeys(COUNT_FIELDS, 0)
    per_tribe: dict[str, dict[str, int]] = {}
    for (tribe, _), c in counts.items():
        tribe_totals = per_tribe.setdefault(tribe, dict.fromkeys(COUNT_FIELDS, 0))
        for key in COUNT_FIELDS:
            totals[key] += c[key]
            tribe_totals[key] += c[key]
    DailyTotal.objects.update_or_create(
        day=day,
        cluster_id=snapshot.cluster_id,
        defaults={
            "snapshot": snapshot,
            "observed_at": snapshot.started_at,
            "tribe": "",
            "squad": "",
            **totals,
        },
    )
    DailyRollup.objects.bulk_create(
        DailyRollup(
            day=day,
            cluster_id=snapshot.cluster_id,
            snapshot=snapshot,
            observed_at=snapshot.started_at,
            tribe=tribe,
            squad=squad,
            **c,
        )
        for (tribe, squad), c in counts.items()
    )
    DailyTribeTotal.objects.filter(day=day, cluster_id=snapshot.cluster_id).delete()
    DailyTribeTotal.objects.bulk_create(
        DailyTribeTotal(
            day=day,
            cluster_id=snapshot.cluster_id,
            snapshot=snapshot,
            observed_at=snapshot.started_at,
            tribe=tribe,
            squad="",
            **c,
        )
        for tribe, c in per_tribe.items()
    )
