"""/metrics: Prometheus exposition that parses and matches the rollups; access controlled."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adoption import progress
from adoption.models import SnapshotRollup

pytestmark = pytest.mark.django_db


def test_it_refuses_anonymous_scrapes_and_accepts_the_token(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MESHBOARD_METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def test_it_exposes_adoption_gauges_equal_to_the_rollups(history, viewer_client) -> None:  # type: ignore[no-untyped-def]
    text = viewer_client.get("/metrics").content.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    meshed = {
        (s.labels["cluster"], s.labels["tribe"], s.labels["squad"]): s.value
        for s in families["meshboard_workloads_meshed"].samples
    }
    rows = SnapshotRollup.objects.filter(snapshot_id__in=progress.latest_snapshot_ids())
    expected = {
        (r.cluster.name, r.tribe or "Unassigned", r.squad or "Unassigned"): float(
            r.workloads_meshed
        )
        for r in rows.select_related("cluster")
    }
    assert meshed == expected
    assert sum(meshed.values()) == progress.current().sums["workloads_meshed"]
    clusters = {
        s.labels["cluster"]
        for s in families["meshboard_cluster_last_success_timestamp_seconds"].samples
    }
    assert clusters == {c.name for c in history}
    assert "django_http_requests_total_by_method" in families  # request metrics too
