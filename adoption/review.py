"""Since the last review: what changed per tribe/squad between two days, and target progress.

Read-side queries for OKR reviews (DESIGN §3). Everything here is a handful of queries whatever
the fleet size: the two days' observations are fetched with ``values_list`` (one query per day)
and diffed in Python, never queried per workload.

Definitions used by :func:`since_review` (``before`` < ``after`` are calendar days, UTC):

- **the snapshot of a day**: each (enabled, in-scope) cluster's last good snapshot started on or
  before the end of that day. Retention keeps the last snapshot of each day with its
  observations, so both days have full workload observations (within the daily retention).
- **compared workloads**: keyed by (cluster, namespace, kind, name); system namespaces are left
  out, as in every adoption figure. ``workloads_before/after`` and ``meshed_before/after`` count
  the `workloads_meshed` metric's denominator (not idle, not ineligible) and numerator.
- **newly meshed** / **regressed**: present in both snapshots and counted (not idle) in both,
  ``state`` not ``meshed`` → ``meshed`` / ``meshed`` → not ``meshed``. Workloads that appear or
  disappear are counted separately (``workloads_added`` / ``workloads_removed``).
- **newly missing a proxy**: ``missing-proxy`` at ``after`` and not at ``before`` (including
  workloads that did not exist at ``before``).
- **stuck missing a proxy**: ``missing-proxy`` at ``after`` with ``missing_since`` before
  ``after - stuck_days`` (00:00 UTC of that day).
- **new waiver**: ``Waiver.created_at`` after the end of ``before`` and not after the end of
  ``after``; it belongs to the tribe that owns its namespace (the namespace observation of the
  ``after`` snapshot, else the ``before`` one) and, for a workload waiver, to the workload's squad
  in the ``after`` snapshot (else to the tribe's row with an empty squad). A waiver for every
  cluster is listed once under each (tribe, squad) it covers on some in-scope cluster.
- **target status change**: for tribe- and squad-scoped targets running in the window
  (``start <= after`` and ``due >= before``), :func:`target_progress` status at ``before`` vs at
  ``after``. Squad targets sit on their squad's row, tribe targets on the tribe's row with an
  empty squad. Org-wide targets belong to no tribe and are not listed here (``targets.csv``
  covers them).

Rows: one :class:`ReviewRow` per (tribe, squad) present in either snapshot, plus the tribe rows
(empty squad) that a tribe target or namespace waiver needs; ``""`` is Unassigned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from django.db.models import Q

from . import forecast, metrics, progress
from .models import (
    Cluster,
    NamespaceObservation,
    ScopeKind,
    Snapshot,
    SnapshotStatus,
    Target,
    Waiver,
    WorkloadObservation,
)
from .progress import Scope

MESHED = "meshed"
MISSING = "missing-proxy"
IDLE = "idle"
INELIGIBLE = "ineligible"

#: Change labels of :class:`WorkloadChange` (also the ``change`` column of ``review.csv``).
NEWLY_MESHED = "newly-meshed"
REGRESSED = "regressed"
NEWLY_MISSING = "newly-missing-proxy"
STUCK_MISSING = "stuck-missing-proxy"

#: How far back :func:`target_progress` reads before the start date (the trend window).
TREND_DAYS = 28

WorkloadKey = tuple[int, str, str, str]  # (cluster id, namespace, kind, name)


@dataclass(frozen=True)
class WorkloadChange:
    """One workload that changed between the two snapshots (a detail row)."""

    change: str  # NEWLY_MESHED | REGRESSED | NEWLY_MISSING | STUCK_MISSING
    cluster: str
    namespace: str
    kind: str
    name: str
    tribe: str
    squad: str
    state_before: str  # "" when the workload did not exist at ``before``
    state_after: str
    missing_since: datetime | None


@dataclass(frozen=True)
class NewWaiver:
    id: int
    cluster: str  # "" = every cluster
    namespace: str
    workload_kind: str
    workload_name: str
    reason: str
    approver: str
    expires_on: date
    created_at: datetime


@dataclass(frozen=True)
class TargetChange:
    target: Target
    before: forecast.Progress
    after: forecast.Progress

    @property
    def changed(self) -> bool:
        return self.before.status != self.after.status


@dataclass
class ReviewRow:
    """What changed for one (tribe, squad) between ``before`` and ``after``."""

    tribe: str
    squad: str
    # workloads in the adoption denominator (not system, not idle, not ineligible), of which meshed
    workloads_before: int = 0
    workloads_after: int = 0
    meshed_before: int = 0
    meshed_after: int = 0
    workloads_added: int = 0
    workloads_removed: int = 0
    newly_meshed: int = 0
    regressed: int = 0
    newly_missing: int = 0
    stuck_missing: int = 0
    changes: list[WorkloadChange] = field(default_factory=list)
    waivers: list[NewWaiver] = field(default_factory=list)
    targets: list[TargetChange] = field(default_factory=list)

    @property
    def new_waivers(self) -> int:
        return len(self.waivers)

    @property
    def targets_changed(self) -> int:
        return sum(t.changed for t in self.targets)

    @property
    def meshed_share_before(self) -> float | None:
        return 100.0 * self.meshed_before / self.workloads_before if self.workloads_before else None

    @property
    def meshed_share_after(self) -> float | None:
        return 100.0 * self.meshed_after / self.workloads_after if self.workloads_after else None


def day_end(day: date) -> datetime:
    """The first instant after ``day`` (UTC): "on or before ``day``" means ``< day_end(day)``."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def scope_clusters(scope: Scope) -> dict[int, Cluster]:
    """The enabled clusters a scope covers (the same rule as `progress.sums_at`)."""
    qs = Cluster.objects.enabled()
    if scope.environment:
        qs = qs.filter(environment=scope.environment)
    if scope.cluster:
        qs = qs.filter(name=scope.cluster)
    return {c.pk: c for c in qs}


def snapshots_on(day: date, cluster_ids: Iterable[int]) -> dict[int, Snapshot]:
    """Each cluster's last good snapshot started on or before ``day`` (one DISTINCT ON query)."""
    snaps = (
        Snapshot.objects.filter(
            status=SnapshotStatus.OK, cluster_id__in=list(cluster_ids), started_at__lt=day_end(day)
        )
        .order_by("cluster_id", "-started_at")
        .distinct("cluster_id")
    )
    return {s.cluster_id: s for s in snaps}


def _scope_filter(scope: Scope) -> Q:
    q = Q(system=False)
    if scope.tribe is not None:
        q &= Q(tribe=scope.tribe)
    if scope.squad is not None:
        q &= Q(squad=scope.squad)
    return q


_OBS_FIELDS = ("cluster_id", "namespace", "kind", "name", "tribe", "squad", "state", "pods_total")


@dataclass(frozen=True)
class _Obs:
    tribe: str
    squad: str
    state: str
    counted: bool
    missing_since: datetime | None


def _observations(snapshot_ids: list[int], scope: Scope) -> dict[WorkloadKey, _Obs]:
    rows = (
        WorkloadObservation.objects.filter(snapshot_id__in=snapshot_ids)
        .filter(_scope_filter(scope))
        .values_list(*_OBS_FIELDS, "missing_since")
    )
    return {
        (cid, ns, kind, name): _Obs(
            tribe, squad, state, pods_total > 0 and state != IDLE, missing_since
        )
        for cid, ns, kind, name, tribe, squad, state, pods_total, missing_since in rows.iterator(
            chunk_size=5000
        )
    }


def daily_series(scope: Scope, start: date, end: date) -> list[progress.Point]:
    """Daily points over ``[start, end]`` (carry-forward per cluster; see `progress.sums_at`)."""
    if end < start:
        return []
    points = progress.sums_at(scope, progress.days(start, end), "day")
    assert isinstance(points, list)
    return points


def _metric_points(
    points: Iterable[progress.Point], metric: metrics.Metric | str
) -> list[tuple[date, float]]:
    out = []
    for p in points:
        v = p.value(metric)
        if v is not None:
            at = p.at.date() if isinstance(p.at, datetime) else p.at
            out.append((at, v))
    return out


def _direction(metric: str) -> Literal["up", "down"]:
    try:
        d = metrics.DEFS[metrics.Metric(metric)].direction
    except ValueError:
        return "up"
    return "down" if d == "down" else "up"


def target_series(target: Target, as_of: date) -> list[tuple[date, float]]:
    """The target metric's daily values for its scope, from ``start - 28 days`` to ``as_of``
    (empty for an unknown metric: its progress is then "no data")."""
    if target.metric not in metrics.Metric.__members__.values():
        return []
    points = daily_series(
        Scope.for_target(target), target.start - timedelta(days=TREND_DAYS), as_of
    )
    return _metric_points(points, target.metric)


def _progress(target: Target, series: list[tuple[date, float]], as_of: date) -> forecast.Progress:
    return forecast.progress(
        series,
        target=target.value,
        start=target.start,
        due=target.due,
        as_of=as_of,
        direction=_direction(target.metric),
    )


def target_progress(target: Target, as_of: date) -> forecast.Progress:
    """Where ``target`` stands on ``as_of``: the metric's daily series for the target's scope
    (``Scope.for_target``) from ``start - 28`` days to ``as_of``, through `forecast.progress`
    (direction from the metric definition; baseline = value at the start date)."""
    return _progress(target, target_series(target, as_of), as_of)


def _targets(scope: Scope, before: date, after: date) -> list[Target]:
    qs = (
        Target.objects.filter(
            scope__in=[ScopeKind.TRIBE, ScopeKind.SQUAD], start__lte=after, due__gte=before
        )
        .select_related("tribe", "squad", "squad__tribe", "cluster")
        .order_by("due", "id")
    )
    if scope.tribe is not None:
        qs = qs.filter(tribe__name=scope.tribe)
    if scope.squad is not None:
        qs = qs.filter(scope=ScopeKind.SQUAD, squad__name=scope.squad)
    return list(qs)


def since_review(
    scope: Scope, before: date, after: date, *, stuck_days: int = 14
) -> list[ReviewRow]:
    """Per (tribe, squad): what changed between the ``before`` and ``after`` days.

    See the module docstring for every definition. Rows are sorted by tribe then squad
    (Unassigned, ``""``, first); each row's ``changes`` are sorted by change, cluster,
    namespace, kind and name.
    """
    clusters = scope_clusters(scope)
    snaps_before = snapshots_on(before, clusters)
    snaps_after = snapshots_on(after, clusters)
    old = _observations([s.pk for s in snaps_before.values()], scope)
    new = _observations([s.pk for s in snaps_after.values()], scope)

    rows: dict[tuple[str, str], ReviewRow] = {}

    def row(tribe: str, squad: str) -> ReviewRow:
        r = rows.get((tribe, squad))
        if r is None:
            r = rows[(tribe, squad)] = ReviewRow(tribe, squad)
        return r

    stuck_before = datetime.combine(after - timedelta(days=stuck_days), time.min, tzinfo=UTC)

    def change(kind: str, key: WorkloadKey, o: _Obs | None, n: _Obs) -> WorkloadChange:
        cid, ns, wkind, name = key
        return WorkloadChange(
            kind,
            clusters[cid].name,
            ns,
            wkind,
            name,
            n.tribe,
            n.squad,
            o.state if o else "",
            n.state,
            n.missing_since,
        )

    for key, was in old.items():
        r = row(was.tribe, was.squad)
        r.workloads_before += was.counted and was.state != INELIGIBLE
        r.meshed_before += was.counted and was.state == MESHED
        if key not in new:
            r.workloads_removed += 1
    for key, n in new.items():
        r = row(n.tribe, n.squad)
        r.workloads_after += n.counted and n.state != INELIGIBLE
        r.meshed_after += n.counted and n.state == MESHED
        o = old.get(key)
        if o is None:
            r.workloads_added += 1
        elif o.counted and n.counted:
            if o.state != MESHED and n.state == MESHED:
                r.newly_meshed += 1
                r.changes.append(change(NEWLY_MESHED, key, o, n))
            elif o.state == MESHED and n.state != MESHED:
                r.regressed += 1
                r.changes.append(change(REGRESSED, key, o, n))
        if n.state == MISSING:
            if o is None or o.state != MISSING:
                r.newly_missing += 1
                r.changes.append(change(NEWLY_MISSING, key, o, n))
            if n.missing_since is not None and n.missing_since < stuck_before:
                r.stuck_missing += 1
                r.changes.append(change(STUCK_MISSING, key, o, n))

    _add_waivers(scope, before, after, clusters, snaps_before, snaps_after, new, row)

    for t in _targets(scope, before, after):
        series = target_series(t, after)
        change_ = TargetChange(t, _progress(t, series, before), _progress(t, series, after))
        tribe = t.tribe.name if t.tribe else ""
        squad = t.squad.name if t.scope == ScopeKind.SQUAD and t.squad else ""
        row(tribe, squad).targets.append(change_)

    for r in rows.values():
        r.changes.sort(key=lambda c: (c.change, c.cluster, c.namespace, c.kind, c.name))
    return [rows[k] for k in sorted(rows)]


def _add_waivers(
    scope: Scope,
    before: date,
    after: date,
    clusters: dict[int, Cluster],
    snaps_before: dict[int, Snapshot],
    snaps_after: dict[int, Snapshot],
    new: dict[WorkloadKey, _Obs],
    row: Callable[[str, str], ReviewRow],
) -> None:
    waivers = list(
        Waiver.objects.filter(
            created_at__gte=day_end(before), created_at__lt=day_end(after)
        ).filter(Q(cluster__isnull=True) | Q(cluster_id__in=list(clusters)))
    )
    if not waivers:
        return
    # The namespace's tribe per cluster (the `after` snapshot wins over the `before` one).
    ns_tribe: dict[tuple[int, str], str] = {}
    snap_ids = [s.pk for s in snaps_before.values()] + [s.pk for s in snaps_after.values()]
    after_ids = {s.pk for s in snaps_after.values()}
    obs = NamespaceObservation.objects.filter(
        snapshot_id__in=snap_ids, namespace__in={w.namespace for w in waivers}
    ).values_list("snapshot_id", "cluster_id", "namespace", "tribe")
    for _snapshot_id, cid, ns, tribe in sorted(obs, key=lambda o: o[0] in after_ids):
        ns_tribe[(cid, ns)] = tribe
    for w in waivers:
        homes: set[tuple[str, str]] = set()  # (tribe, squad) on each cluster it covers
        for c in [w.cluster_id] if w.cluster_id else list(clusters):
            owner = ns_tribe.get((c, w.namespace))
            if owner is None:
                continue  # the namespace is not seen on that cluster on either day
            seen = new.get((c, w.namespace, w.workload_kind, w.workload_name))
            homes.add((owner, seen.squad if w.workload_name and seen is not None else ""))
        entry = NewWaiver(
            w.pk,
            clusters[w.cluster_id].name if w.cluster_id else "",
            w.namespace,
            w.workload_kind,
            w.workload_name,
            w.reason,
            w.approver,
            w.expires_on,
            w.created_at,
        )
        for tribe, squad in sorted(homes):
            if (scope.tribe is None or tribe == scope.tribe) and (
                scope.squad is None or squad == scope.squad
            ):
                row(tribe, squad).waivers.append(entry)
