"""The series query (`progress.sums_at`) against a reference computed from the polls themselves,
and the daily totals it reads (`DailyTribeTotal`, `DailyTotal`) equal to sums of `DailyRollup`
— after polls written out of order, a re-resolution and retention.

The fleet: clusters polled at random hours with failed polls, days without any poll, a cluster
silent for longer than `progress.RECENT_DAYS` (the bounded probe misses it), polls that see no
application workload at all, tribes that vanish from a cluster, and a disabled cluster.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import transaction

from adoption import history, progress, store
from adoption.models import (
    AuthMethod,
    Cluster,
    DailyRollup,
    DailyTotal,
    DailyTribeTotal,
    OwnershipRule,
    RuleKind,
    Snapshot,
    SnapshotStatus,
)
from adoption.progress import Scope
from adoption.store import COUNT_FIELDS, NamespaceRow, WorkloadRow, rollup_counts

pytestmark = pytest.mark.django_db

BASE = date(2026, 5, 1)
DAYS = 12
# namespace → tribe label ("" = Unassigned)
NAMESPACES = {"ns-a": "t1", "ns-b": "t1", "ns-c": "t2", "ns-d": ""}
SQUADS = ["s1", "s2", ""]
STATES = ["meshed", "partial", "missing-proxy", "opted-out", "not-enrolled", "idle"]
CLUSTERS = [  # name, environment, enabled, last day polled
    ("prod-1", "production", True, DAYS - 1),
    ("prod-2", "production", True, DAYS - 1),
    ("stage-1", "staging", True, 2),  # silent from day 3: carried forward past RECENT_DAYS
    ("off-1", "production", False, DAYS - 1),  # disabled: never counted
]
Counts = dict[tuple[str, str], dict[str, int]]


@dataclass
class Poll:
    snapshot: Snapshot
    workloads: list[WorkloadRow]
    namespaces: list[NamespaceRow]

    @property
    def at(self) -> datetime:
        return self.snapshot.started_at

    def counts(self, tribe_of: dict[str, str] | None = None) -> Counts:
        """The poll's rollup counts, optionally with namespaces moved to other tribes."""
        move = tribe_of or {}
        workloads = [replace(w, tribe=move.get(w.namespace, w.tribe)) for w in self.workloads]
        namespaces = [replace(n, tribe=move.get(n.namespace, n.tribe)) for n in self.namespaces]
        return rollup_counts(workloads, namespaces)


def _poll_rows(rng: random.Random) -> tuple[list[WorkloadRow], list[NamespaceRow]]:
    workloads = [
        WorkloadRow("kube-system", "Deployment", "coredns", "", "", True, "not-enrolled", "", "", 2)
    ]
    namespaces = [NamespaceRow("kube-system", "", "not-enrolled", "", True)]
    if rng.random() < 0.1:
        return workloads, namespaces  # nothing but system namespaces: no rollup group at all
    present = [ns for ns in NAMESPACES if rng.random() < 0.75] or ["ns-a"]
    for ns in present:
        tribe = NAMESPACES[ns]
        namespaces.append(
            NamespaceRow(
                ns,
                tribe,
                rng.choice(["sidecar-default", "not-enrolled", "ambient"]),
                "",
                False,
                labels={"tribe": tribe} if tribe else {},
            )
        )
        for i in range(rng.randint(1, 5)):
            squad = rng.choice(SQUADS)
            state = rng.choice(STATES)
            pods = rng.randint(0, 4)
            workloads.append(
                WorkloadRow(
                    ns,
                    "Deployment",
                    f"w{i}",
                    tribe,
                    squad,
                    False,
                    state,
                    squad_label=squad,
                    pods_total=pods,
                    pods_meshed=pods if state == "meshed" else 0,
                    behind=rng.random() < 0.3,
                    services=["svc"] if rng.random() < 0.6 else [],
                    timeout=rng.random() < 0.5,
                    retries=rng.random() < 0.5,
                    proxy_cpu_request_m=rng.randint(0, 300),
                    proxy_memory_request_b=rng.randint(0, 2**31),
                )
            )
    return workloads, namespaces


@pytest.fixture
def fleet() -> list[Poll]:
    """Every poll (ok and failed) of the fleet, written in a shuffled order (back-fill out of
    order); returns the ok ones."""
    rng = random.Random(7)  # noqa: S311
    plan = []
    for name, env, enabled, last_day in CLUSTERS:
        cluster = Cluster.objects.create(
            name=name,
            environment=env,
            enabled=enabled,
            auth_method=AuthMethod.KUBECONFIG,
            kubeconfig_path="/x",
        )
        for d in range(last_day + 1):
            if d and rng.random() < 0.2:
                continue  # no poll at all that day
            for hour in rng.sample([1, 7, 13, 19], rng.randint(1, 3)):
                at = datetime.combine(BASE + timedelta(days=d), time(hour), tzinfo=UTC)
                plan.append((cluster, at, rng.random() < 0.8))
    rng.shuffle(plan)
    polls = []
    for cluster, at, ok in plan:
        status = SnapshotStatus.OK if ok else SnapshotStatus.FAILED
        snap = Snapshot.objects.create(cluster=cluster, started_at=at, status=status)
        if ok:
            workloads, namespaces = _poll_rows(rng)
            with transaction.atomic():
                store.write_snapshot(snap, workloads, namespaces)
            polls.append(Poll(snap, workloads, namespaces))
    return polls


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNT_FIELDS, 0)


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for f in COUNT_FIELDS:
        into[f] += counts[f]


def assert_daily_totals_match_rollups() -> None:
    """`DailyTribeTotal` = `DailyRollup` summed per (day, cluster, tribe); `DailyTotal` = summed
    per (day, cluster), one for every day a cluster has rows (an empty day: zeros); both from
    the same snapshot as the rows they sum."""
    per_tribe: dict[tuple[Any, ...], dict[str, int]] = defaultdict(_zero)
    per_cluster: dict[tuple[Any, ...], dict[str, int]] = defaultdict(_zero)
    source: dict[tuple[Any, ...], set[Any]] = defaultdict(set)
    for r in DailyRollup.objects.values("day", "cluster_id", "tribe", "snapshot_id", *COUNT_FIELDS):
        _add(per_tribe[(r["day"], r["cluster_id"], r["tribe"])], r)
        _add(per_cluster[(r["day"], r["cluster_id"])], r)
        source[(r["day"], r["cluster_id"])].add(r["snapshot_id"])
    assert all(len(s) == 1 for s in source.values()), "a day's rows come from one snapshot"

    tribe_rows = {
        (r["day"], r["cluster_id"], r["tribe"]): r
        for r in DailyTribeTotal.objects.values(
            "day", "cluster_id", "tribe", "squad", "snapshot_id", *COUNT_FIELDS
        )
    }
    assert set(tribe_rows) == set(per_tribe)
    for key, row in tribe_rows.items():
        assert {f: row[f] for f in COUNT_FIELDS} == per_tribe[key], key
        assert row["squad"] == ""
        assert {row["snapshot_id"]} == source[key[:2]]

    totals = {
        (r["day"], r["cluster_id"]): r
        for r in DailyTotal.objects.values("day", "cluster_id", "snapshot_id", *COUNT_FIELDS)
    }
    assert set(per_cluster) <= set(totals)
    for key, row in totals.items():
        assert {f: row[f] for f in COUNT_FIELDS} == per_cluster.get(key, _zero()), key
        if key in source:
            assert {row["snapshot_id"]} == source[key]


# -- the reference: DESIGN §3 straight from the polls ------------------------------------------


def _clusters_in(scope: Scope) -> list[Cluster]:
    return [
        c
        for c in Cluster.objects.filter(enabled=True)
        if (not scope.environment or c.environment == scope.environment)
        and (not scope.cluster or c.name == scope.cluster)
    ]


def expected(
    polls: list[Poll],
    counts: dict[int, Counts],
    scope: Scope,
    points: Iterable[date | datetime],
    grain: progress.Grain,
    group_by: str | None = None,
) -> dict[str, dict[Any, tuple[int, int, dict[str, int]]]]:
    """{group: {point: (clusters, carried, sums)}}: per point, each cluster in scope adds the
    counts of its latest good poll at or before it (per day: the last of a day stands for the
    day; per snapshot: the latest poll that stored rollup rows)."""
    out: dict[str, dict[Any, list[Any]]] = defaultdict(dict)
    org_total = grain == "day" and scope.tribe is None and scope.squad is None and not group_by
    for p in dict.fromkeys(points):
        for cluster in _clusters_in(scope):
            mine = [x for x in polls if x.snapshot.cluster_id == cluster.pk]
            if grain == "day":
                before = [x for x in mine if x.at.date() <= p]
            else:
                before = [x for x in mine if x.at <= p and counts[x.snapshot.pk]]
            if not before:
                continue
            latest = max(before, key=lambda x: x.at)
            carried = (latest.at.date() if grain == "day" else latest.at) < p
            groups = counts[latest.snapshot.pk]
            if org_total:  # the cluster's DailyTotal row: present even when it is all zeros
                matched = [("", c) for c in groups.values()] or [("", _zero())]
            else:
                matched = [
                    ({"tribe": t, "squad": s, None: ""}[group_by], c)
                    for (t, s), c in groups.items()
                    if (scope.tribe is None or t == scope.tribe)
                    and (scope.squad is None or s == scope.squad)
                ]
            for g, c in matched:
                entry = out[g].setdefault(p, [set(), set(), _zero()])
                entry[0].add(cluster.pk)
                if carried:
                    entry[1].add(cluster.pk)
                _add(entry[2], c)
    return {
        g: {p: (len(e[0]), len(e[1]), e[2]) for p, e in by_p.items()} for g, by_p in out.items()
    }


def actual(
    scope: Scope, points: list[Any], grain: progress.Grain, group_by: str | None = None
) -> dict[str, dict[Any, tuple[int, int, dict[str, int]]]]:
    result = progress.sums_at(scope, points, grain, group_by=group_by)
    by_group = result if isinstance(result, dict) else {"": result}
    out: dict[str, dict[Any, tuple[int, int, dict[str, int]]]] = {}
    for g, pts in by_group.items():
        assert [p.at for p in pts] == points  # every point asked for, in the order asked
        out[g] = {p.at: (p.clusters, p.carried, p.sums) for p in pts if p.clusters}
    return {g: by_p for g, by_p in out.items() if by_p}


DAY_POINTS = [BASE + timedelta(days=d) for d in range(-2, DAYS + 2)] + [
    BASE + timedelta(days=40),  # every cluster silent for longer than RECENT_DAYS
    BASE + timedelta(days=5),  # a point asked twice
]
SCOPES = [
    Scope(),
    Scope(tribe="t1"),
    Scope(tribe="t2"),
    Scope(tribe=""),
    Scope(tribe="t1", squad="s1"),
    Scope(tribe="t2", squad=""),
    Scope(squad="s2"),  # a squad name in several tribes
    Scope(environment="staging"),
    Scope(environment="production", tribe="t1"),
    Scope(cluster="prod-2"),
    Scope(cluster="prod-2", tribe="t2", squad="s1"),
    Scope(cluster="off-1"),  # disabled
    Scope(tribe="nobody"),
]
GROUPED = [
    (Scope(), "tribe"),
    (Scope(), "squad"),
    (Scope(tribe="t1"), "squad"),
    (Scope(environment="production"), "tribe"),
    (Scope(cluster="stage-1"), "squad"),
]


def _check(
    polls: list[Poll],
    counts: dict[int, Counts],
    scopes: list[Scope],
    points: list[Any] = DAY_POINTS,
    grain: str = "day",
) -> None:
    """The series at ``points`` equal the reference for every scope, then per group."""
    for scope in scopes:
        assert actual(scope, points, grain) == expected(polls, counts, scope, points, grain), scope
    for scope, group_by in GROUPED:
        assert actual(scope, points, grain, group_by) == expected(
            polls, counts, scope, points, grain, group_by
        ), (scope, group_by)


def test_daily_series_equal_the_polls_carried_forward(fleet) -> None:  # type: ignore[no-untyped-def]
    counts = {x.snapshot.pk: x.counts() for x in fleet}
    assert any(not c for c in counts.values()), "the fleet has a poll without any group"

    assert_daily_totals_match_rollups()
    _check(fleet, counts, SCOPES)
    # the silent cluster is carried forward, flagged as such, well past RECENT_DAYS
    late = BASE + timedelta(days=DAYS - 1)
    assert (late - BASE).days - 2 > progress.RECENT_DAYS
    point = progress.on_day(Scope(environment="staging"), late)
    assert point.clusters == point.carried == 1


def test_snapshot_series_equal_the_polls_carried_forward(fleet) -> None:  # type: ignore[no-untyped-def]
    counts = {x.snapshot.pk: x.counts() for x in fleet}
    times = sorted({x.at for x in fleet})
    points = [
        times[0] - timedelta(hours=1),
        times[3],
        times[3] + timedelta(minutes=5),
        times[len(times) // 2],
        times[-1],
        times[-1] + timedelta(days=30),
    ]
    _check(fleet, counts, SCOPES, points, "snapshot")


def test_reresolve_and_retention_keep_the_daily_totals_right(fleet, settings) -> None:  # type: ignore[no-untyped-def]
    # a reorg: ns-b moves from t1 to a new tribe, for all of history
    OwnershipRule.objects.create(kind=RuleKind.TRIBE, namespace_pattern="ns-b", value="reorg")
    assert history.reresolve(BASE, progress=lambda _: None) == len(fleet)

    counts = {x.snapshot.pk: x.counts({"ns-b": "reorg"}) for x in fleet}
    assert_daily_totals_match_rollups()
    assert DailyTribeTotal.objects.filter(tribe="reorg").exists()
    scopes = [*SCOPES, Scope(tribe="reorg"), Scope(tribe="reorg", squad="s1")]
    _check(fleet, counts, scopes)

    # retention deletes old snapshots; the daily rows and every daily figure stay as they were
    before = {
        model: sorted(model.objects.values_list("day", "cluster_id", "tribe", *COUNT_FIELDS))
        for model in (DailyRollup, DailyTribeTotal, DailyTotal)
    }
    settings.MESHBOARD_RETENTION_FULL_DAYS = 2
    settings.MESHBOARD_RETENTION_DAILY_DAYS = 5
    now = datetime.combine(BASE + timedelta(days=DAYS), time(), tzinfo=UTC)
    result = history.apply_retention(now=now)
    assert result["snapshots_expired"] > 0
    assert DailyTribeTotal.objects.filter(snapshot__isnull=True).exists()
    after = {
        model: sorted(model.objects.values_list("day", "cluster_id", "tribe", *COUNT_FIELDS))
        for model in (DailyRollup, DailyTribeTotal, DailyTotal)
    }
    assert after == before
    assert_daily_totals_match_rollups()
    _check(fleet, counts, scopes)


def test_seed_history_writes_the_daily_totals() -> None:
    from adoption.management.commands.seed_history import seed_history

    seed_history(clusters=2, workloads=60, days=4, tribes=3, squads_per_tribe=2, seed=3)

    assert DailyTribeTotal.objects.count() == 2 * 4 * 3
    assert_daily_totals_match_rollups()
    # and the series reads them: a tribe's figures are its squads' rows summed
    day = DailyRollup.objects.order_by("-day").values_list("day", flat=True)[0]
    point = progress.on_day(Scope(tribe="payments"), day)
    rows = DailyRollup.objects.filter(day=day, tribe="payments")
    assert point.clusters == 2
    assert point.sums["workloads_meshed"] == sum(r.workloads_meshed for r in rows)


def test_an_earlier_poll_written_late_never_replaces_a_later_empty_one() -> None:
    cluster = Cluster.objects.create(
        name="c", auth_method=AuthMethod.KUBECONFIG, kubeconfig_path="/x"
    )
    at = datetime.combine(BASE, time(12), tzinfo=UTC)
    later = Snapshot.objects.create(cluster=cluster, started_at=at, status=SnapshotStatus.OK)
    with transaction.atomic():
        store.write_snapshot(later, [], [])  # it saw no application workload
    earlier = Snapshot.objects.create(
        cluster=cluster, started_at=at - timedelta(hours=6), status=SnapshotStatus.OK
    )
    rows = _poll_rows(random.Random(1))
    assert rollup_counts(*rows)
    with transaction.atomic():
        store.write_snapshot(earlier, *rows)

    assert set(DailyTotal.objects.values_list("snapshot_id", flat=True)) == {later.pk}
    assert not DailyRollup.objects.exists() and not DailyTribeTotal.objects.exists()
    assert progress.on_day(Scope(), BASE).sums["workloads_total"] == 0
