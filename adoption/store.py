"""Snapshot writes and rollups.

`write_snapshot` stores one classified poll in the caller's transaction: workload and namespace
observations by COPY, then the per-snapshot rollup and the day's rollup (the cluster's last good
snapshot of that day), in plain SQL. `rollup_counts` is the one place that turns observations
into the counts every page, chart and export reads.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import msgspec
from django.db import connection
from psycopg import Copy

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
_JSON_COLUMNS = ("proxy_versions", "services", "diagnostics")  # written last, in this order
# COPY takes its columns in any order: the plain ones come straight from one C-level attrgetter
# call per row, the JSON ones (encoded per row) last.
_WL_PLAIN = tuple(name for name in _WL_COLUMNS if name not in _JSON_COLUMNS)
_wl_plain = operator.attrgetter(*_WL_PLAIN)
_WL_COPY = (
    f"COPY {WorkloadObservation._meta.db_table} (snapshot_id, cluster_id, observed_at, "
    f"{', '.join(_WL_PLAIN + _JSON_COLUMNS)}) FROM STDIN"
)
_NS_JSON = ("conflicts", "labels")
_NS_PLAIN = tuple(f.name for f in fields(NamespaceRow) if f.name not in _NS_JSON)
_ns_plain = operator.attrgetter(*_NS_PLAIN)
_NS_COPY = (
    f"COPY {NamespaceObservation._meta.db_table} (snapshot_id, cluster_id, observed_at, "
    f"{', '.join(_NS_PLAIN + _NS_JSON)}) FROM STDIN"
)
_json = msgspec.json.Encoder().encode


def _json_list(value: list[str] | None) -> str:
    """A list as JSON text; None (and empty) as ``[]``, as the JSONField default stores it."""
    return _json(value).decode() if value else "[]"


def _json_dict(value: dict[str, str] | None) -> str:
    return _json(value).decode() if value else "{}"


def _write_workloads(copy: Copy, snapshot: Snapshot, rows: list[WorkloadRow]) -> None:
    head = (snapshot.pk, snapshot.cluster_id, snapshot.started_at)
    write, plain, js = copy.write_row, _wl_plain, _json_list
    for row in rows:
        write((*head, *plain(row), js(row.proxy_versions), js(row.services), js(row.diagnostics)))


def _namespace_values(snapshot: Snapshot, rows: list[NamespaceRow]) -> list[tuple[Any, ...]]:
    """The namespace observations' COPY rows."""
    head = (snapshot.pk, snapshot.cluster_id, snapshot.started_at)
    plain = _ns_plain
    return [(*head, *plain(ns), _json_list(ns.conflicts), _json_dict(ns.labels)) for ns in rows]


def _org_names(
    workloads: list[WorkloadRow], namespaces: list[NamespaceRow]
) -> tuple[set[str], set[tuple[str, str]]]:
    """The tribe names and (tribe, squad) pairs one poll names."""
    tribes = {n.tribe for n in namespaces if n.tribe}
    pairs = set()
    for w in workloads:
        if w.tribe:
            tribes.add(w.tribe)
            if w.squad:
                pairs.add((w.tribe, w.squad))
    return tribes, pairs


_TRIBE = Tribe._meta.db_table
_SQUAD = Squad._meta.db_table


def _ensure_org(workloads: list[WorkloadRow], namespaces: list[NamespaceRow]) -> None:
    """Create Tribe/Squad rows for names seen for the first time (the org chart grows itself)."""
    _create_org(*_org_names(workloads, namespaces))


def _create_org(tribes: set[str], pairs: set[tuple[str, str]]) -> None:
    """Insert the tribes and squads not there yet, in name order (one statement each; a known
    name takes no id from the sequence)."""
    with connection.cursor() as cursor:
        if tribes:
            cursor.execute(
                f"INSERT INTO {_TRIBE} (name) SELECT n FROM unnest(%s::text[]) "
                f"WITH ORDINALITY AS p (n, i) "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_TRIBE} t WHERE t.name = p.n) ORDER BY p.i "
                "ON CONFLICT DO NOTHING",
                [sorted(tribes)],
            )
        if pairs:
            ordered = sorted(pairs)
            cursor.execute(
                f"INSERT INTO {_SQUAD} (tribe_id, name) "
                f"SELECT t.id, p.squad FROM unnest(%s::text[], %s::text[]) "
                f"WITH ORDINALITY AS p (tribe, squad, i) JOIN {_TRIBE} t ON t.name = p.tribe "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_SQUAD} s "
                "WHERE s.tribe_id = t.id AND s.name = p.squad) ORDER BY p.i "
                "ON CONFLICT DO NOTHING",
                [[t for t, _ in ordered], [q for _, q in ordered]],
            )


def write_snapshot(
    snapshot: Snapshot, workloads: list[WorkloadRow], namespaces: list[NamespaceRow]
) -> None:
    """Store one poll's observations and rollups. Call inside `transaction.atomic()`.

    Everything goes through the caller's connection and transaction."""
    write_rollups(snapshot, write_observations(snapshot, workloads, namespaces))


def write_observations(
    snapshot: Snapshot, workloads: list[WorkloadRow], namespaces: list[NamespaceRow]
) -> dict[tuple[str, str], dict[str, int]]:
    """COPY one poll's workload and namespace observations (10× faster than bulk_create at 50k
    rows) and add the tribes and squads they name; returns their `rollup_counts`.

    The Python side of the rollups runs while the server still digests the workload COPY (the
    rows sit in the socket buffers), so it costs next to no wall time."""
    with connection.wrap_database_errors, connection.cursor() as cursor:
        cur = cursor.cursor
        with cur.copy(_WL_COPY) as copy:
            _write_workloads(copy, snapshot, workloads)
            # the server is still working through the buffered rows: meanwhile, the Python
            # side of everything that follows
            ns_values = _namespace_values(snapshot, namespaces)
            counts = rollup_counts(workloads, namespaces)
            org = _org_names(workloads, namespaces)
        if ns_values:
            with cur.copy(_NS_COPY) as copy:
                write = copy.write_row
                for values in ns_values:
                    write(values)
    _create_org(*org)
    return counts


def write_observations_orm(
    snapshot: Snapshot,
    workloads: list[WorkloadRow],
    namespaces: list[NamespaceRow],
    batch_size: int | None = None,
) -> None:
    """The same observations through Django's ``bulk_create``: the plain way, which the COPY
    path is tested against (tests/test_store.py) and measured against
    (benchmarks/bench_store.py)."""
    WorkloadObservation.objects.bulk_create(
        (
            WorkloadObservation(
                snapshot=snapshot,
                cluster_id=snapshot.cluster_id,
                observed_at=snapshot.started_at,
                **{
                    **asdict(w),
                    "proxy_versions": w.proxy_versions or [],
                    "services": w.services or [],
                    "diagnostics": w.diagnostics or [],
                },
            )
            for w in workloads
        ),
        batch_size=batch_size,
    )
    NamespaceObservation.objects.bulk_create(
        (
            NamespaceObservation(
                snapshot=snapshot,
                cluster_id=snapshot.cluster_id,
                observed_at=snapshot.started_at,
                **{**asdict(n), "conflicts": n.conflicts or [], "labels": n.labels or {}},
            )
            for n in namespaces
        ),
        batch_size=batch_size,
    )


_SNAP_ROLLUP = SnapshotRollup._meta.db_table
_DAILY_ROLLUP = DailyRollup._meta.db_table
_DAILY_TOTAL = DailyTotal._meta.db_table
_DAILY_TRIBE = DailyTribeTotal._meta.db_table
_COUNTS_SQL = ", ".join(COUNT_FIELDS)


def _insert_rows(cur: Any, table: str, head: str, rows: list[tuple[Any, ...]]) -> None:
    """One multi-row INSERT of ``rows`` (``head`` names their columns before the counts)."""
    if not rows:
        return
    width = len(rows[0])
    values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    params = [v for row in rows for v in row]
    cur.execute(f"INSERT INTO {table} ({head}, {_COUNTS_SQL}) VALUES {values}", params)


def write_rollups(snapshot: Snapshot, counts: Mapping[tuple[str, str], Mapping[str, int]]) -> None:
    """Per-snapshot rollup rows, and the day's rows when this is the day's latest good snapshot:
    per (tribe, squad) group, per tribe (`DailyTribeTotal`) and per cluster (`DailyTotal`).

    Plain SQL on the caller's connection (a handful of statements, no model instances)."""
    sid, cid, at = snapshot.pk, snapshot.cluster_id, snapshot.started_at
    day = at.date()
    groups = [(tribe, squad, *(c[k] for k in COUNT_FIELDS)) for (tribe, squad), c in counts.items()]
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_SNAP_ROLLUP} WHERE snapshot_id = %s", [sid])
        _insert_rows(
            cur,
            _SNAP_ROLLUP,
            "snapshot_id, cluster_id, observed_at, tribe, squad",
            [(sid, cid, at, *g) for g in groups],
        )
        # (DailyTotal: an empty snapshot writes no DailyRollup row, but this)
        cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM {_DAILY_TOTAL} "
            "WHERE day = %s AND cluster_id = %s AND observed_at > %s)",
            [day, cid, at],
        )
        row = cur.fetchone()
        if row and row[0]:
            return  # a later snapshot of that day already stands for it (back-fill out of order)
        totals = dict.fromkeys(COUNT_FIELDS, 0)
        per_tribe: dict[str, dict[str, int]] = {}
        for (tribe, _), c in counts.items():
            tribe_totals = per_tribe.setdefault(tribe, dict.fromkeys(COUNT_FIELDS, 0))
            for key in COUNT_FIELDS:
                totals[key] += c[key]
                tribe_totals[key] += c[key]
        cur.execute(f"DELETE FROM {_DAILY_ROLLUP} WHERE day = %s AND cluster_id = %s", [day, cid])
        updates = ", ".join(
            f"{col} = EXCLUDED.{col}" for col in ("snapshot_id", "observed_at", "tribe", "squad")
        )
        cur.execute(
            f"INSERT INTO {_DAILY_TOTAL} (day, cluster_id, snapshot_id, observed_at, tribe, "
            f"squad, {_COUNTS_SQL}) VALUES (%s, %s, %s, %s, '', '', "
            f"{', '.join(['%s'] * len(COUNT_FIELDS))}) "
            f"ON CONFLICT (cluster_id, day) DO UPDATE SET {updates}, "
            + ", ".join(f"{k} = EXCLUDED.{k}" for k in COUNT_FIELDS),
            [day, cid, sid, at, *(totals[k] for k in COUNT_FIELDS)],
        )
        daily_head = "day, cluster_id, snapshot_id, observed_at, tribe, squad"
        _insert_rows(cur, _DAILY_ROLLUP, daily_head, [(day, cid, sid, at, *g) for g in groups])
        cur.execute(f"DELETE FROM {_DAILY_TRIBE} WHERE day = %s AND cluster_id = %s", [day, cid])
        _insert_rows(
            cur,
            _DAILY_TRIBE,
            daily_head,
            [
                (day, cid, sid, at, tribe, "", *(c[k] for k in COUNT_FIELDS))
                for tribe, c in per_tribe.items()
            ],
        )
