"""The "since the last review" diff and target progress, over real polls of the simulated fleet.

The fleet only ever gains mesh coverage, so to see regressions the ``after`` poll of staging
reads the fleet as it was on an earlier day (the simulator's clock is set back; the snapshot is
still stored at the ``after`` time): a real poll of a cluster that lost meshed workloads.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta

import pytest

from adoption import collect, forecast, review
from adoption.csvsafe import BOM
from adoption.models import (
    AuthMethod,
    Cluster,
    NamespaceObservation,
    ScopeKind,
    Squad,
    Target,
    Tribe,
    Waiver,
    WorkloadObservation,
)
from adoption.progress import Scope

pytestmark = pytest.mark.django_db

ENVIRONMENTS = {"prod-eu": "production", "prod-us": "production", "staging": "staging"}
START, BEFORE, AFTER = 45, 60, 75  # simulated fleet days
REWOUND = {"staging": START}  # clusters whose AFTER poll reads the fleet of an earlier day


@pytest.fixture(autouse=True)
def _export_urls(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = "tests.export_urlconf"


@pytest.fixture
def fleet(sim):  # type: ignore[no-untyped-def]
    clusters = {}
    for name in sim.cluster_names:
        clusters[name] = c = Cluster.objects.create(
            name=name,
            environment=ENVIRONMENTS[name],
            auth_method=AuthMethod.KUBECONFIG,
            kubeconfig_path=str(sim.kubeconfig_path),
            context=name,
        )
        for day in (START, BEFORE, AFTER):
            fleet_day = REWOUND.get(name, day) if day == AFTER else day
            sim.set_time(sim.fleet.start_of_day(fleet_day))
            snap = collect.snapshot_cluster(c, started_at=sim.fleet.start_of_day(day))
            assert snap.status == "ok", snap.error
    return clusters


def d(sim, n):  # type: ignore[no-untyped-def]
    return sim.fleet.start_of_day(n).date()


def observations(sim, n, **filters):  # type: ignore[no-untyped-def]
    """Non-system workload observations of the day-``n`` polls, keyed like the diff."""
    at = sim.fleet.start_of_day(n)
    return {
        (o.cluster_id, o.namespace, o.kind, o.name): o
        for o in WorkloadObservation.objects.filter(observed_at=at, system=False, **filters)
    }


def counted(o) -> bool:  # type: ignore[no-untyped-def]
    return o.pods_total > 0 and o.state != "idle"


def direct_diff(sim, stuck_days=14, **filters):  # type: ignore[no-untyped-def]
    """The review figures per (tribe, squad), computed straight from the observations."""
    old, new = observations(sim, BEFORE, **filters), observations(sim, AFTER, **filters)
    names = dict(Cluster.objects.values_list("pk", "name"))
    stuck_before = datetime.combine(d(sim, AFTER) - timedelta(days=stuck_days), time.min, UTC)
    figures: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    details = set()
    for o in old.values():
        figures[(o.tribe, o.squad)]["seen"] += 1
        figures[(o.tribe, o.squad)]["workloads_before"] += counted(o) and o.state != "ineligible"
        figures[(o.tribe, o.squad)]["meshed_before"] += counted(o) and o.state == "meshed"
    for key, n in new.items():
        f = figures[(n.tribe, n.squad)]
        f["seen"] += 1
        f["workloads_after"] += counted(n) and n.state != "ineligible"
        f["meshed_after"] += counted(n) and n.state == "meshed"
        o = old.get(key)
        where = (names[key[0]], *key[1:])
        if o is not None and counted(o) and counted(n):
            if o.state != "meshed" and n.state == "meshed":
                f["newly_meshed"] += 1
                details.add(("newly-meshed", *where))
            if o.state == "meshed" and n.state != "meshed":
                f["regressed"] += 1
                details.add(("regressed", *where))
        if n.state == "missing-proxy" and (o is None or o.state != "missing-proxy"):
            f["newly_missing"] += 1
            details.add(("newly-missing-proxy", *where))
        if n.state == "missing-proxy" and n.missing_since and n.missing_since < stuck_before:
            f["stuck_missing"] += 1
            details.add(("stuck-missing-proxy", *where))
    return figures, details


FIELDS = [
    "workloads_before", "workloads_after", "meshed_before", "meshed_after", "newly_meshed",
    "regressed", "newly_missing", "stuck_missing",
]  # fmt: skip


def as_figures(rows):  # type: ignore[no-untyped-def]
    return {(r.tribe, r.squad): {f: getattr(r, f) for f in FIELDS} for r in rows}


def test_it_equals_a_direct_diff_of_the_two_days(sim, fleet, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    with django_assert_max_num_queries(7):  # clusters, 2 × (snapshots, observations), waivers,
        # targets (no target, no series query)
        rows = review.since_review(Scope(), d(sim, BEFORE), d(sim, AFTER))

    figures, details = direct_diff(sim)
    assert as_figures(rows) == {k: {f: v[f] for f in FIELDS} for k, v in figures.items()}
    got_details = {
        (c.change, c.cluster, c.namespace, c.kind, c.name) for r in rows for c in r.changes
    }
    assert got_details == details
    assert sum(r.newly_meshed for r in rows) > 0
    assert sum(r.regressed for r in rows) > 0
    assert {c.cluster for r in rows for c in r.changes if c.change == "regressed"} == {"staging"}
    assert [(r.tribe, r.squad) for r in rows] == sorted((r.tribe, r.squad) for r in rows)
    for r in rows:
        for c in r.changes:
            assert (c.tribe, c.squad) == (r.tribe, r.squad)
    # added/removed: the rewound staging lost the workloads created after day 45
    old, new = observations(sim, BEFORE), observations(sim, AFTER)
    assert sum(r.workloads_removed for r in rows) == len(old.keys() - new.keys())
    assert sum(r.workloads_added for r in rows) == len(new.keys() - old.keys())

    # stuck_days moves the "stuck" cut-off
    rows0 = review.since_review(Scope(), d(sim, BEFORE), d(sim, AFTER), stuck_days=0)
    figures0, _ = direct_diff(sim, stuck_days=0)
    assert as_figures(rows0) == {k: {f: v[f] for f in FIELDS} for k, v in figures0.items()}


def test_a_scope_limits_the_rows(sim, fleet):  # type: ignore[no-untyped-def]
    rows = review.since_review(Scope(tribe="payments"), d(sim, BEFORE), d(sim, AFTER))
    figures, _ = direct_diff(sim, tribe="payments")
    assert {r.tribe for r in rows} == {"payments"}
    assert as_figures(rows) == {k: {f: v[f] for f in FIELDS} for k, v in figures.items()}

    rows = review.since_review(Scope(environment="staging"), d(sim, BEFORE), d(sim, AFTER))
    figures, _ = direct_diff(sim, cluster__environment="staging")
    assert as_figures(rows) == {k: {f: v[f] for f in FIELDS} for k, v in figures.items()}
    assert sum(r.regressed for r in rows) > 0


def _waiver(sim, created_day, created_hour=12, **kw):  # type: ignore[no-untyped-def]
    w = Waiver.objects.create(approver="ciso", expires_on=d(sim, AFTER + 30), **kw)
    at = datetime.combine(d(sim, created_day), time(created_hour), UTC)
    Waiver.objects.filter(pk=w.pk).update(created_at=at)
    return w


def test_waivers_created_between_the_days_are_new(sim, fleet):  # type: ignore[no-untyped-def]
    new = observations(sim, AFTER)
    eu = fleet["prod-eu"]
    workload = next(
        o
        for _, o in sorted(new.items())
        if o.cluster_id == eu.pk and o.tribe == "payments" and o.squad
    )
    ns = workload.namespace
    evil = '=HYPERLINK("http://evil.example","x")'
    fresh = _waiver(sim, BEFORE + 5, cluster=eu, namespace=ns, reason=evil)
    _waiver(sim, BEFORE, cluster=eu, namespace=ns, reason="on the review day: not new")
    _waiver(sim, AFTER + 1, cluster=eu, namespace=ns, reason="after: not new")
    for_workload = _waiver(
        sim,
        AFTER,
        created_hour=23,
        cluster=eu,
        namespace=ns,
        workload_kind=workload.kind,
        workload_name=workload.name,
        reason="legacy client",
    )
    everywhere = _waiver(sim, BEFORE + 2, namespace=ns, reason="every cluster")

    rows = {
        (r.tribe, r.squad): r for r in review.since_review(Scope(), d(sim, BEFORE), d(sim, AFTER))
    }

    assert [w.id for w in rows[("payments", "")].waivers] == [fresh.pk, everywhere.pk]
    assert rows[("payments", "")].waivers[0].cluster == "prod-eu"
    assert [w.id for w in rows[("payments", workload.squad)].waivers] == [for_workload.pk]
    # the fleet-wide waiver sits with every tribe that owns the namespace on some cluster
    owners = {o.tribe for o in observations(sim, AFTER, namespace=ns).values()}
    assert {k[0] for k, r in rows.items() if everywhere.pk in [w.id for w in r.waivers]} == owners
    assert sum(r.new_waivers for r in rows.values()) == 2 + len(owners)
    # out of scope: another cluster (only the fleet-wide waiver, if prod-us has the namespace)
    us = review.since_review(Scope(cluster="prod-us"), d(sim, BEFORE), d(sim, AFTER))
    us_has_ns = NamespaceObservation.objects.filter(
        cluster=fleet["prod-us"],
        namespace=ns,
        observed_at__in=[sim.fleet.start_of_day(BEFORE), sim.fleet.start_of_day(AFTER)],
    ).exists()
    assert {w.id for r in us for w in r.waivers} == ({everywhere.pk} if us_has_ns else set())
    assert not any(
        r.waivers
        for r in review.since_review(Scope(tribe="commerce"), d(sim, BEFORE), d(sim, AFTER))
    )


def direct_workloads_meshed(obs) -> float:  # type: ignore[no-untyped-def]
    c = [o for o in obs if counted(o)]
    return 100.0 * sum(o.state == "meshed" for o in c) / sum(o.state != "ineligible" for o in c)


def test_target_progress_equals_direct_values(sim, fleet):  # type: ignore[no-untyped-def]
    target = Target.objects.create(
        metric="workloads_meshed", value=95, start=d(sim, START), due=d(sim, START + 45)
    )

    p = review.target_progress(target, d(sim, BEFORE))

    baseline = direct_workloads_meshed(observations(sim, START).values())
    actual = direct_workloads_meshed(observations(sim, BEFORE).values())
    assert p.baseline == pytest.approx(baseline)
    assert p.actual == pytest.approx(actual)
    assert p.expected == pytest.approx(baseline + (95 - baseline) * 15 / 45)
    # the daily series carries each cluster's last figures forward over the days between polls
    carried = [(float(x), baseline) for x in range(START, BEFORE)] + [(float(BEFORE), actual)]
    fit = forecast.linear_fit(carried)
    assert fit is not None and p.trend_per_day == pytest.approx(fit[0])
    assert p.status in set(forecast.ProgressStatus)
    assert review.target_progress(target, d(sim, START - 1)).status == "not-started"

    # a cost target points down: 0.1 core of proxies is far below what runs
    cost = Target.objects.create(
        metric="proxy_cpu_request", value=0.1, start=d(sim, START), due=d(sim, START + 45)
    )
    q = review.target_progress(cost, d(sim, BEFORE))
    cpu = sum(o.proxy_cpu_request_m for o in observations(sim, BEFORE).values()) / 1000
    assert q.actual == pytest.approx(cpu)
    assert q.status != "met" and q.gap is not None and q.gap < 0


def test_target_status_changes_sit_on_their_rows(sim, fleet):  # type: ignore[no-untyped-def]
    payments = Tribe.objects.get(name="payments")
    squad = Squad.objects.filter(tribe=payments).order_by("name")[0]
    tribe_target = Target.objects.create(
        scope=ScopeKind.TRIBE,
        tribe=payments,
        metric="workloads_meshed",
        value=100,
        start=d(sim, START),
        due=d(sim, AFTER - 5),  # due between the days: off track (or met) at AFTER
    )
    squad_target = Target.objects.create(
        scope=ScopeKind.SQUAD,
        tribe=payments,
        squad=squad,
        metric="pods_meshed",
        value=50,
        start=d(sim, START),
        due=d(sim, AFTER + 30),
    )
    Target.objects.create(  # finished before the window: not listed
        metric="pods_meshed", value=50, start=d(sim, 1), due=d(sim, 10)
    )

    rows = {
        (r.tribe, r.squad): r for r in review.since_review(Scope(), d(sim, BEFORE), d(sim, AFTER))
    }

    (t,) = rows[("payments", "")].targets
    assert t.target == tribe_target
    assert t.before.status == review.target_progress(tribe_target, d(sim, BEFORE)).status
    assert t.after.status == review.target_progress(tribe_target, d(sim, AFTER)).status
    assert t.changed == (t.before.status != t.after.status)
    assert rows[("payments", "")].targets_changed == int(t.changed)
    (s,) = rows[("payments", squad.name)].targets
    assert s.target == squad_target
    assert s.after.status == review.target_progress(squad_target, d(sim, AFTER)).status
    assert sum(len(r.targets) for r in rows.values()) == 2


REVIEW_HEADER = [
    "section", "tribe", "squad", "workloads_before", "workloads_after", "meshed_before",
    "meshed_after", "workloads_meshed_pct_before", "workloads_meshed_pct_after",
    "workloads_added", "workloads_removed", "newly_meshed", "regressed", "newly_missing_proxy",
    "stuck_missing_proxy", "new_waivers", "targets_changed", "change", "cluster", "namespace",
    "kind", "name", "target_id", "state_before", "state_after", "missing_since", "detail",
]  # fmt: skip


def test_review_csv(sim, fleet, viewer_client):  # type: ignore[no-untyped-def]
    eu = fleet["prod-eu"]
    ns = next(o.namespace for o in observations(sim, AFTER).values() if o.tribe == "payments")
    _waiver(sim, BEFORE + 1, cluster=eu, namespace=ns, reason='=HYPERLINK("http://x","y")')
    target = Target.objects.create(
        scope=ScopeKind.TRIBE,
        tribe=Tribe.objects.get(name="payments"),
        metric="workloads_meshed",
        value=100,
        start=d(sim, START),
        due=d(sim, AFTER + 30),
        note="-1+1",
    )
    before, after = d(sim, BEFORE), d(sim, AFTER)

    response = viewer_client.get(f"/export/review.csv?before={before}&after={after}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="meshboard-review-since-{before}-{after}.csv"'
    )
    text = b"".join(response.streaming_content).decode()
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows[0] == REVIEW_HEADER
    records = [dict(zip(REVIEW_HEADER, r, strict=True)) for r in rows[1:]]
    sections = [r["section"] for r in records]
    assert sections == sorted(sections, key=["summary", "workload", "waiver", "target"].index)

    figures, details = direct_diff(sim)
    summary = {(r["tribe"], r["squad"]): r for r in records if r["section"] == "summary"}

    def shown(key):  # type: ignore[no-untyped-def]
        return (key[0] or "Unassigned", key[1] or "Unassigned")

    # plus the tribe row that holds the namespace waiver and the tribe target
    assert set(summary) == {shown(k) for k in figures} | {("payments", "Unassigned")}
    for (tribe, squad), f in figures.items():
        row = summary[shown((tribe, squad))]
        assert int(row["newly_meshed"]) == f["newly_meshed"]
        assert int(row["regressed"]) == f["regressed"]
        assert int(row["newly_missing_proxy"]) == f["newly_missing"]
        assert int(row["stuck_missing_proxy"]) == f["stuck_missing"]
        expected = (
            round(100.0 * f["meshed_after"] / f["workloads_after"], 1)
            if f["workloads_after"]
            else None
        )
        got = row["workloads_meshed_pct_after"]
        assert (float(got) if got else None) == expected
    assert {
        (r["change"], r["cluster"], r["namespace"], r["kind"], r["name"])
        for r in records
        if r["section"] == "workload"
    } == details
    (waiver,) = [r for r in records if r["section"] == "waiver"]
    assert (waiver["tribe"], waiver["change"], waiver["cluster"], waiver["namespace"]) == (
        "payments",
        "new-waiver",
        "prod-eu",
        ns,
    )
    assert waiver["detail"] == '\'=HYPERLINK("http://x","y")'
    assert summary[("payments", "Unassigned")]["new_waivers"] == "1"
    (t,) = [r for r in records if r["section"] == "target"]
    assert t["target_id"] == str(target.pk)
    assert t["state_after"] == review.target_progress(target, after).status.value

    scoped = viewer_client.get(
        f"/export/review.csv?before={before}&after={after}&tribe=payments&bom=0"
    )
    text = b"".join(scoped.streaming_content).decode()
    assert text.startswith('"section"')
    assert {r[1] for r in list(csv.reader(io.StringIO(text)))[1:]} == {"payments"}
    assert "review-since-" + str(before) + "-payments-" in scoped["Content-Disposition"]
