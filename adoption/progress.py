"""Read-side queries: every figure a page, chart or export shows comes from here.

All of them are aggregates over the rollup tables, never loops over observations:

- `sums_at` — summed rollup counts for a scope at given points in time. Across clusters a
  point's value is the sum of each cluster's latest rollup at or before that point (DESIGN §3:
  a cluster whose polls fail keeps its last good figures), computed in one SQL statement of
  index probes whose cost follows the number of points × clusters, not the history stored.
- `metric_series` — a metric over a date range: per-snapshot points for short ranges, daily
  points otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from django.db import connection
from django.utils import timezone

from . import metrics
from .models import (
    Cluster,
    DailyRollup,
    DailyTotal,
    DailyTribeTotal,
    RollupCounts,
    ScopeKind,
    Snapshot,
    SnapshotRollup,
    SnapshotStatus,
    Target,
)

COUNTS = [
    f.name
    for f in RollupCounts._meta.get_fields()
    if f.concrete and f.name not in ("id", "tribe", "squad")
]
Grain = Literal["snapshot", "day"]
# Ranges up to this long are drawn per snapshot; longer ones per day.
SNAPSHOT_GRAIN_MAX = timedelta(days=2)
MAX_SNAPSHOT_POINTS = 400


@dataclass(frozen=True)
class Scope:
    """Which part of the fleet a figure covers. ``None`` = no filter; ``""`` tribe/squad =
    Unassigned."""

    tribe: str | None = None
    squad: str | None = None
    environment: str | None = None
    cluster: str | None = None

    @classmethod
    def for_target(cls, target: Target) -> Scope:
        return cls(
            tribe=target.tribe.name
            if target.scope in (ScopeKind.TRIBE, ScopeKind.SQUAD) and target.tribe
            else None,
            squad=target.squad.name if target.scope == ScopeKind.SQUAD and target.squad else None,
            environment=target.environment or None,
            cluster=target.cluster.name if target.cluster else None,
        )

    def describe(self) -> str:
        parts = []
        if self.tribe is not None:
            parts.append(f"tribe {self.tribe or 'Unassigned'}")
        if self.squad is not None:
            parts.append(f"squad {self.squad or 'Unassigned'}")
        if self.environment:
            parts.append(self.environment)
        if self.cluster:
            parts.append(f"cluster {self.cluster}")
        return ", ".join(parts) or "whole org"


@dataclass
class Point:
    at: datetime | date
    sums: dict[str, int] = field(default_factory=dict)
    clusters: int = 0  # clusters contributing
    carried: int = 0  # of which carried forward from an earlier snapshot/day (no newer data)

    def value(self, metric: metrics.Metric | str) -> float | None:
        return metrics.value(metric, self.sums) if self.clusters else None


def _cluster_filter(scope: Scope) -> tuple[str, list[Any]]:
    sql, params = ["c.enabled"], []
    if scope.environment:
        sql.append("c.environment = %s")
        params.append(scope.environment)
    if scope.cluster:
        sql.append("c.name = %s")
        params.append(scope.cluster)
    return " AND ".join(sql), params


def _row_filter(scope: Scope) -> tuple[str, list[Any]]:
    sql, params = [], []
    if scope.tribe is not None:
        sql.append("r.tribe = %s")
        params.append(scope.tribe)
    if scope.squad is not None:
        sql.append("r.squad = %s")
        params.append(scope.squad)
    return (" AND " + " AND ".join(sql)) if sql else "", params


# Each cluster's latest day at or before a point is first looked for among this many days
# before it: the backward index probe then reads a handful of entries, not the rest of an index
# page of that cluster's history (a B-tree page is read whole). A cluster silent longer is
# found by the unbounded probe that follows.
RECENT_DAYS = 7


@dataclass(frozen=True)
class _Source:
    lookup: str  # where each cluster's latest time at or before a point is found
    rows: str  # the rows summed at that time
    tcol: str  # time column of both
    ptype: str  # SQL type of the points
    one_per_cluster: bool  # at most one row per (point, group, cluster): no DISTINCT needed
    recent: str | None = None  # SQL lower bound of the first, bounded lookup


def _source(scope: Scope, grain: Grain, group_by: str | None) -> _Source:
    """Which tables a query reads. Per snapshot: `SnapshotRollup`. Per day, each cluster's
    latest day comes from `DailyTotal` (one row per cluster and day) and the figures from the
    narrowest table that still holds the scope: `DailyTotal` for the whole org, `DailyTribeTotal`
    for a tribe or per tribe, `DailyRollup` for squads. (A day whose last poll saw no application
    workload has a `DailyTotal` row and no other: it counts as the cluster's latest day.)"""
    by_squad = scope.squad is not None or group_by == "squad"
    if grain == "snapshot":
        table = SnapshotRollup._meta.db_table
        unique = scope.tribe is not None and by_squad
        return _Source(table, table, "observed_at", "timestamptz", unique)
    total = DailyTotal._meta.db_table
    if by_squad:
        rows, unique = DailyRollup._meta.db_table, scope.tribe is not None
    elif scope.tribe is not None or group_by == "tribe":
        rows, unique = DailyTribeTotal._meta.db_table, True
    else:
        rows, unique = total, True
    return _Source(total, rows, "day", "date", unique, f"pts.p - {RECENT_DAYS}")


def _latest(src: _Source, columns: str) -> str:
    """SQL: ``columns`` of the lookup row of cluster ``c`` latest at or before point ``pts.p``
    (nothing when it has none). One index probe: the bounded one when it finds a row (LIMIT 1
    stops the UNION ALL there), else the unbounded one."""
    t = src.tcol
    where = f"FROM {src.lookup} x WHERE x.cluster_id = c.id AND x.{t} <= pts.p"
    order = f"ORDER BY x.{t} DESC LIMIT 1"
    if src.recent is None:
        return f"SELECT {columns} {where} {order}"
    return (
        f"(SELECT {columns} {where} AND x.{t} > {src.recent} {order}) "
        f"UNION ALL (SELECT {columns} {where} {order}) LIMIT 1"
    )


def sums_at(
    scope: Scope, points: list[datetime] | list[date], grain: Grain, *, group_by: str | None = None
) -> list[Point] | dict[str, list[Point]]:
    """Summed counts at each point (carry-forward per cluster); optionally grouped by tribe/squad.

    For every (point, enabled cluster in scope), a lateral index probe finds the cluster's
    latest time ≤ point (backward on (cluster, time), bounded to the last `RECENT_DAYS` days
    first), then the rows of the scope at that (cluster, time) are fetched by index and summed
    per point (and group), with the clusters contributing and those carried forward (no newer
    data). Every step is an index probe per (point, cluster): the cost follows points ×
    clusters, not the history stored. Org-wide daily figures read the `DailyTotal` row in the
    probe itself; the covering indexes of `DailyTotal` and `DailyTribeTotal` make the org and
    tribe reads index-only.
    """
    if not points:
        return {} if group_by else []
    src = _source(scope, grain, group_by)
    cfilter, cparams = _cluster_filter(scope)
    rfilter, rparams = _row_filter(scope)
    gcol = {"tribe": "r.tribe", "squad": "r.squad", None: "''"}[group_by]
    sums = ", ".join(f"SUM(r.{c})::bigint" for c in COUNTS)
    t = src.tcol
    needed = [t, *([group_by] if group_by else []), *COUNTS]  # what the covering indexes hold
    if src.rows == src.lookup == DailyTotal._meta.db_table:  # one row per cluster and day
        scoped = _latest(src, ", ".join(f"x.{c}" for c in needed))
    else:
        # OFFSET 0 fences the subquery: one probe per (point, cluster), never a hash join
        # over the whole history
        scoped = f"""SELECT {", ".join(f"r.{c}" for c in needed)} FROM {src.rows} r
            WHERE r.cluster_id = c.id AND r.{t} = ({_latest(src, f"x.{t}")}) {rfilter}
            OFFSET 0"""
    distinct = "" if src.one_per_cluster else "DISTINCT "
    sql = f"""
        WITH pts AS (SELECT unnest(%s::{src.ptype}[]) AS p)
        SELECT pts.p, {gcol} AS g, {sums}, COUNT({distinct}c.id),
               COUNT({distinct}c.id) FILTER (WHERE r.{t} < pts.p)
        FROM pts CROSS JOIN {Cluster._meta.db_table} c CROSS JOIN LATERAL ({scoped}) r
        WHERE {cfilter}
        GROUP BY pts.p, g ORDER BY pts.p, g
    """  # noqa: S608 - identifiers are ours; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [sorted(set(points)), *rparams, *cparams])
        rows = cursor.fetchall()
    grouped: dict[str, dict[Any, Point]] = {}
    for p, g, *values, n, carried in rows:
        grouped.setdefault(g, {})[p] = Point(p, dict(zip(COUNTS, values, strict=True)), n, carried)
    filled = {g: [by_p.get(p, Point(p)) for p in points] for g, by_p in grouped.items()}
    if group_by:
        return filled
    return filled.get("", [Point(p) for p in points])


def current(scope: Scope = Scope()) -> Point:
    """The figures now: each cluster's latest good snapshot."""
    result = sums_at(scope, [timezone.now()], "snapshot")
    assert isinstance(result, list)
    return result[0]


def current_by(scope: Scope, group_by: str) -> dict[str, Point]:
    result = sums_at(scope, [timezone.now()], "snapshot", group_by=group_by)
    assert isinstance(result, dict)
    return {g: pts[0] for g, pts in result.items()}


def on_day(scope: Scope, day: date) -> Point:
    result = sums_at(scope, [day], "day")
    assert isinstance(result, list)
    return result[0]


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def snapshot_times(start: datetime, end: datetime) -> list[datetime]:
    """Distinct poll times in the range (thinned to at most MAX_SNAPSHOT_POINTS)."""
    times = list(
        SnapshotRollup.objects.filter(observed_at__gte=start, observed_at__lte=end)
        .order_by("observed_at")
        .values_list("observed_at", flat=True)
        .distinct()
    )
    step = max(1, -(-len(times) // MAX_SNAPSHOT_POINTS))
    thinned = times[::step]
    if times and thinned[-1] != times[-1]:
        thinned.append(times[-1])
    return thinned


def series(
    scope: Scope, start: date, end: date, *, group_by: str | None = None
) -> tuple[Grain, Any]:
    """Points over [start, end] at the grain that fits the range."""
    if end - start <= SNAPSHOT_GRAIN_MAX:
        lo = datetime.combine(start, time.min, tzinfo=UTC)
        hi = datetime.combine(end, time.max, tzinfo=UTC)
        return "snapshot", sums_at(scope, snapshot_times(lo, hi), "snapshot", group_by=group_by)
    return "day", sums_at(scope, days(start, end), "day", group_by=group_by)


def metric_series(
    scope: Scope, metric: metrics.Metric | str, start: date, end: date
) -> list[tuple[datetime | date, float | None]]:
    _, points = series(scope, start, end)
    return [(p.at, p.value(metric)) for p in points]


def first_day() -> date | None:
    """The first day with data (for date-range defaults)."""
    return DailyRollup.objects.order_by("day").values_list("day", flat=True).first()


def latest_ok_snapshots() -> list[Snapshot]:
    """Each enabled cluster's last good snapshot (Postgres DISTINCT ON; one query)."""
    return list(
        Snapshot.objects.filter(status=SnapshotStatus.OK, cluster__enabled=True)
        .order_by("cluster_id", "-started_at")
        .distinct("cluster_id")
    )


def latest_snapshot_ids(*, environment: str | None = None, cluster: str | None = None) -> list[int]:
    """Ids of each enabled cluster's last good snapshot (for current-state tables)."""
    snaps = Snapshot.objects.filter(status=SnapshotStatus.OK, cluster__enabled=True)
    if environment:
        snaps = snaps.filter(cluster__environment=environment)
    if cluster:
        snaps = snaps.filter(cluster__name=cluster)
    return list(
        snaps.order_by("cluster_id", "-started_at")
        .distinct("cluster_id")
        .values_list("pk", flat=True)
    )


def data_version() -> str:
    """Changes whenever anything a page shows may change: a new good snapshot, an edited target
    or waiver, a new ownership rule. Page caches key on it (one cheap query)."""
    from django.db import connection

    from .models import OwnershipRule, Waiver

    sql = f"""SELECT
        (SELECT max(id) FROM {Snapshot._meta.db_table} WHERE status = 'ok'),
        (SELECT max(updated_at) FROM {Target._meta.db_table}),
        (SELECT count(*) FROM {Target._meta.db_table}),
        (SELECT max(id) FROM {Waiver._meta.db_table}),
        (SELECT count(*) FROM {Waiver._meta.db_table}),
        (SELECT max(id) FROM {OwnershipRule._meta.db_table})"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return "-".join(str(v) for v in row or ())
