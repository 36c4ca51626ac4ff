"""The dashboard pages, on real polled history: figures equal direct counts, bad input never
500s, staff-only edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from adoption import progress
from adoption.models import Snapshot, Target, Tribe, WorkloadObservation

pytestmark = pytest.mark.django_db


def _latest_workloads():  # type: ignore[no-untyped-def]
    return WorkloadObservation.objects.filter(
        snapshot_id__in=progress.latest_snapshot_ids(), system=False
    )


def test_it_shows_the_headline_equal_to_a_direct_count(history, viewer_client):  # type: ignore[no-untyped-def]
    obs = (
        _latest_workloads().exclude(state="idle").exclude(pods_total=0).exclude(state="ineligible")
    )
    expected = 100.0 * obs.filter(state="meshed").count() / obs.count()

    html = viewer_client.get("/").content.decode()

    assert f"{expected:.1f} %" in html
    assert 'id="chart-trend"' in html and 'id="chart-bars"' in html
    assert "<figcaption>" in html and "of workloads are meshed" in html


def test_it_keeps_the_overview_query_count_flat(
    history, viewer_client, django_assert_max_num_queries
):  # type: ignore[no-untyped-def]
    with django_assert_max_num_queries(25):
        assert viewer_client.get("/").status_code == 200


def test_it_lists_a_tribes_missing_proxies_with_restart_commands(history, viewer_client):  # type: ignore[no-untyped-def]
    missing = _latest_workloads().filter(state="missing-proxy").exclude(tribe="")
    assert missing.exists(), "the simulated fleet should have workloads missing a proxy"
    w = missing.select_related("cluster").first()
    html = viewer_client.get(f"/tribes/{w.tribe}/").content.decode()
    assert f"{w.namespace}/{w.kind}/{w.name}" in html
    if w.kind == "Deployment":
        assert f"-n {w.namespace} rollout restart deployment/{w.name}" in html


def test_it_shows_a_squads_workloads_sorted_and_paginated(history, viewer_client):  # type: ignore[no-untyped-def]
    w = _latest_workloads().exclude(tribe="").exclude(squad="").first()
    response = viewer_client.get(f"/tribes/{w.tribe}/squads/{w.squad}/", {"sort": "-name"})
    assert response.status_code == 200
    names = [r.record.name for r in response.context["table"].page.object_list]
    assert names == sorted(names, reverse=True)


def test_it_shows_cluster_health_versions_and_namespaces(history, viewer_client):  # type: ignore[no-untyped-def]
    name = history[0].name
    html = viewer_client.get(f"/clusters/{name}/").content.decode()
    assert "Proxy versions" in html and "kube-system" in html and "Recent polls" in html


def test_it_shows_a_workloads_history(history, viewer_client):  # type: ignore[no-untyped-def]
    w = _latest_workloads().select_related("cluster").first()
    html = viewer_client.get(
        f"/clusters/{w.cluster.name}/workloads/{w.namespace}/{w.kind}/{w.name}/"
    ).content.decode()
    assert w.state in html and "History" in html
    assert (
        viewer_client.get(f"/clusters/{w.cluster.name}/workloads/x/Deployment/nope/").status_code
        == 404
    )


BAD_QUERIES = (
    "start=yesterday", "end=2026-13-45", "since=%00", "environment=<script>", "cluster=nope",
    "start=2030-01-01&end=2020-01-01", "sort=;drop table", "page=-1", "page=abc", "state=bogus",
    "behind=maybe", "per_page=100000000",
)  # fmt: skip


def test_it_never_fails_on_a_bad_query_string(history, viewer_client):  # type: ignore[no-untyped-def]
    w = _latest_workloads().exclude(tribe="").exclude(squad="").first()
    tribe, squad = f"/tribes/{w.tribe}/", f"/tribes/{w.tribe}/squads/{w.squad}/"
    for query in BAD_QUERIES:
        for url in ("/", tribe, squad, "/targets/", "/clusters/"):
            response = viewer_client.get(f"{url}?{query}")
            assert response.status_code in (200, 404), (url, query, response.status_code)


def test_it_lets_staff_create_a_target_and_shows_its_progress(history, staff_client):  # type: ignore[no-untyped-def]
    tribe = Tribe.objects.first()
    today = timezone.now().date()
    response = staff_client.post(
        "/targets/new/",
        {"scope": "tribe", "tribe": tribe.pk, "metric": "workloads_meshed", "value": "90",
         "start": (today - timedelta(days=30)).isoformat(),
         "due": (today + timedelta(days=60)).isoformat(),
         "owner": "lead"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    html = staff_client.get("/targets/").content.decode()
    assert "Workloads meshed 90" in html
    assert any(s in html for s in ("On track", "At risk", "Off track", "Met"))


@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("due", {"start": "2026-06-01", "due": "2026-05-01"}),
        ("value", {"value": "140"}),
        ("value", {"value": "abc"}),
        ("metric", {"metric": "nonsense"}),
        ("tribe", {"scope": "tribe"}),
        ("start", {"start": "not-a-date"}),
    ],
)
def test_it_turns_bad_target_input_into_form_errors(staff_client, field, data):  # type: ignore[no-untyped-def]
    base = {
        "scope": "org",
        "metric": "workloads_meshed",
        "value": "80",
        "start": "2026-01-01",
        "due": "2026-12-31",
    }
    response = staff_client.post("/targets/new/", {**base, **data})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Target.objects.exists()


def test_it_refuses_target_edits_to_non_staff(viewer_client):  # type: ignore[no-untyped-def]
    response = viewer_client.post("/targets/new/", {"scope": "org"})
    assert response.status_code == 302 and "login" in response["Location"]
    assert not Target.objects.exists()


def test_it_records_a_waiver_that_counts_from_the_next_poll(history, staff_client, sim):  # type: ignore[no-untyped-def]
    from adoption import collect

    w = _latest_workloads().filter(state="missing-proxy").select_related("cluster").first()
    expires = (timezone.now().date() + timedelta(days=30)).isoformat()
    response = staff_client.post(
        "/waivers/new/",
        {"namespace": w.namespace, "workload_kind": w.kind, "workload_name": w.name,
         "reason": "legacy batch",
         "approver": "cto", "expires_on": expires},
    )  # fmt: skip
    assert response.status_code == 302
    snap = collect.snapshot_cluster(w.cluster)
    again = WorkloadObservation.objects.get(
        snapshot=snap, namespace=w.namespace, kind=w.kind, name=w.name
    )
    assert again.waived
    assert snap.rollups.filter(workloads_waived__gt=0).exists()
    assert Snapshot.objects.filter(status="ok").count() > 3
