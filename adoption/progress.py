"""Read-side queries: every figure a page, chart or export shows comes from here.

All of them are aggregates over the rollup tables, never loops over observations:

- `sums_at` — summed rollup counts for a scope at given points in time. Across clusters a
  point's value is the sum of each cluster's latest rollup at or before that point (DESIGN §3:
  a cluster whose polls fail keeps its last good figures), computed in one SQL statement whose
  cost follows the number of points × clusters, not the history stored.
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


def _table(scope: Scope, grain: Grain, group_by: str | None) -> tuple[str, str, str]:
    """(table, time column, SQL type of points): org-wide daily figures read the per-cluster
    totals; anything narrower reads the per-group rollups."""
    if grain == "snapshot":
        return SnapshotRollup._meta.db_table, "observed_at", "timestamptz"
    if scope.tribe is None and scope.squad is None and group_by is None:
        return DailyTotal._meta.db_table, "day", "date"
    return DailyRollup._meta.db_table, "day", "date"


def sums_at(
    scope: Scope, points: list[datetime] | list[date], grain: Grain, *, group_by: str | None = None
) -> list[Point] | dict[str, list[Point]]:
    """Summed counts at each point (carry-forward per cluster); optionally grouped by tribe/squad.

    1. For every (point, enabled cluster in scope): the cluster's latest rollup time ≤ point
       (an index probe on (cluster, time)); materialized so Postgres probes once per pair.
    2. Join the rollup rows at that time, filtered to the scope's tribe/squad, and sum per
       point (and group).
    3. Count the clusters contributing to each point and group, and those carried forward
       (no newer data).
    """
    if not points:
        return {} if group_by else []
    table, tcol, ptype = _table(scope, grain, group_by)
    cfilter, cparams = _cluster_filter(scope)
    rfilter, rparams = _row_filter(scope)
    gcol = {"tribe": "r.tribe", "squad": "r.squad", None: "''"}[group_by]
    sums = ", ".join(f"SUM(r.{c})::bigint" for c in COUNTS)
    latest = f"""
        WITH pts AS (SELECT unnest(%s::{ptype}[]) AS p),
        latest AS MATERIALIZED (
            SELECT pts.p, c.id AS cluster_id,
                   (SELECT max(x.{tcol}) FROM {table} x
                    WHERE x.cluster_id = c.id AND x.{tcol} <= pts.p) AS t
            FROM pts CROSS JOIN {Cluster._meta.db_table} c
            WHERE {cfilter}
        )"""
    sql = f"""{latest}
        SELECT l.p, {gcol} AS g, {sums}, COUNT(DISTINCT l.cluster_id),
               COUNT(DISTINCT l.cluster_id) FILTER (WHERE l.t < l.p)
        FROM latest l JOIN {table} r ON r.cluster_id = l.cluster_id AND r.{tcol} = l.t {rfilter}
        GROUP BY l.p, g ORDER BY l.p, g
    """  # noqa: S608 - identifiers are ours; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(points), *cparams, *rparams])
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
