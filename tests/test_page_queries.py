"""Every page makes a constant number of SQL queries, whatever the amount of data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adoption import collect, progress
from adoption.models import Cluster, WorkloadObservation

pytestmark = pytest.mark.django_db


def _pages() -> list[str]:
    w = (
        WorkloadObservation.objects.filter(snapshot_id__in=progress.latest_snapshot_ids())
        .exclude(tribe="")
        .exclude(squad="")
        .select_related("cluster")
        .first()
    )
    assert w is not None
    return [
        "/",
        f"/tribes/{w.tribe}/",
        f"/tribes/{w.tribe}/todo/missing/?missing-sort=-cluster&missing-page=2",
        f"/tribes/{w.tribe}/squads/{w.squad}/",
        "/clusters/",
        f"/clusters/{w.cluster.name}/",
        f"/clusters/{w.cluster.name}/workloads/{w.namespace}/{w.kind}/{w.name}/",
        "/targets/",
        "/waivers/",
    ]


def _counts(client, urls: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, url
        counts[url] = len(ctx.captured_queries)
    return counts


def test_it_makes_the_same_number_of_queries_with_more_history(history, sim, viewer_client) -> None:  # type: ignore[no-untyped-def]
    urls = _pages()
    before = _counts(viewer_client, urls)
    # twice the history: every cluster polled on three more days
    now = timezone.now().replace(microsecond=0)
    for i, day in enumerate((70, 80, 90)):
        sim.set_time(sim.fleet.start_of_day(day))
        for c in Cluster.objects.all():
            assert (
                collect.snapshot_cluster(c, started_at=now - timedelta(hours=i + 1)).status == "ok"
            )
    after = _counts(viewer_client, urls)
    assert after == before
    assert max(before.values()) <= 30, before
