"""Capacity end to end: collected from kubesim (with and without the metrics API), shown on the
cluster page, projected on the targets page, exported, and a tribe's cost is the sum of its
workloads'."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from adoption import progress
from adoption.models import ScopeKind, Snapshot, Target, Tribe, WorkloadObservation

pytestmark = pytest.mark.django_db


def test_it_collects_capacity_with_and_without_the_metrics_api(history) -> None:  # type: ignore[no-untyped-def]
    caps = {
        s.cluster.name: s.capacity
        for s in Snapshot.objects.filter(pk__in=progress.latest_snapshot_ids())
    }
    assert caps["prod-eu"]["metrics_api"] and caps["prod-eu"]["usage"]["proxies"] > 0
    assert caps["staging"]["metrics_api"] is False and caps["staging"]["usage"] is None
    eu = {cp["deployment"]: cp for cp in caps["prod-eu"]["control_planes"]}
    assert eu["istiod"]["hpa_max"] == 5  # kubesim's istiod HPA honoured
    assert caps["prod-us"]["control_planes"][0]["hpa_max"] is None
    for cap in caps.values():
        assert cap["proxies"] > 0 and cap["proxy_cpu_request_m"] > 0 and not cap["errors"]


def test_it_shows_capacity_and_says_requests_only_without_metrics(history, viewer_client) -> None:  # type: ignore[no-untyped-def]
    staging = viewer_client.get("/clusters/staging/").content.decode()
    assert "requests only" in staging and "Capacity" in staging
    eu = viewer_client.get("/clusters/prod-eu/").content.decode()
    assert "Actual use (metrics API)" in eu and "HPA 1–5" in eu


def test_it_makes_a_tribes_cost_the_sum_of_its_workloads(history) -> None:  # type: ignore[no-untyped-def]
    tribe = Tribe.objects.first().name
    point = progress.current(progress.Scope(tribe=tribe))
    direct = WorkloadObservation.objects.filter(
        snapshot_id__in=progress.latest_snapshot_ids(), tribe=tribe, system=False
    ).aggregate(cpu=Sum("proxy_cpu_request_m"), mem=Sum("proxy_memory_request_b"))
    assert point.sums["proxy_cpu_request_m"] == direct["cpu"] > 0
    assert point.sums["proxy_memory_request_b"] == direct["mem"]


def test_it_projects_what_a_target_adds(history, staff_client) -> None:  # type: ignore[no-untyped-def]
    today = timezone.now().date()
    Target.objects.create(
        scope=ScopeKind.ORG,
        metric="pods_meshed",
        value=100,
        start=today - timedelta(days=20),
        due=today + timedelta(days=20),
    )
    point = progress.current()
    outside = point.sums["pods_total"] - point.sums["pods_meshed"]
    per_proxy = point.sums["proxy_cpu_request_m"] / point.sums["pods_meshed"]
    html = staff_client.get("/targets/").content.decode()
    assert f"+{outside} proxies" in html  # 100 % of pods: every pod outside gets a proxy
    assert f"+{round(outside * per_proxy) / 1000:,.1f} cores CPU" in html


def test_it_exports_capacity_per_cluster(history, viewer_client) -> None:  # type: ignore[no-untyped-def]
    response = viewer_client.get("/export/capacity.csv", {"bom": "0"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["cluster"] for r in rows} == {c.name for c in history}
    staging = next(r for r in rows if r["cluster"] == "staging")
    assert staging["metrics_api"] == "false" and staging["proxy_cpu_usage_m"] == ""
