"""Polling kubesim with the real kubernetes client, over HTTP, through a kubeconfig."""

from __future__ import annotations

import pytest
from django.test import override_settings

from adoption import collect
from adoption.models import NamespaceObservation, Snapshot, SnapshotStatus

from .conftest import SIM_TIME

pytestmark = pytest.mark.django_db


def _truth_totals(sim, cluster_name):  # type: ignore[no-untyped-def]
    """Pods and meshed pods outside system namespaces, per the fleet generator's ground truth."""
    rows = [r for r in sim.fleet.truth(cluster_name, SIM_TIME) if not r.namespace_system]
    return sum(r.pods_total for r in rows), sum(r.pods_meshed for r in rows)


@override_settings(MESHBOARD_KUBE_PAGE_SIZE=7)
def test_it_stores_the_fleets_truth_read_across_several_pages(sim, cluster):  # type: ignore[no-untyped-def]
    snap = collect.snapshot_cluster(cluster)

    assert snap.status == SnapshotStatus.OK, snap.error
    pods_total, pods_meshed = _truth_totals(sim, cluster.name)
    assert pods_total > 20, "the demo fleet should be big enough to need many pages"
    assert (snap.pods_total, snap.pods_meshed) == (pods_total, pods_meshed)
    pod_pages = [r for r in sim.request_log if r.path.endswith("/api/v1/pods")]
    assert len(pod_pages) >= 3, "the pod list must have been read page by page"
    assert all(r.query.get("limit") == "7" for r in pod_pages)
    observed = NamespaceObservation.objects.filter(snapshot=snap)
    assert observed.count() == snap.namespaces_total > 0
    assert snap.bytes_read > 0 and snap.objects_seen > pods_total


def test_it_is_idempotent_for_the_same_scheduled_start(sim, cluster):  # type: ignore[no-untyped-def]
    first = collect.snapshot_cluster(cluster, started_at=SIM_TIME)
    again = collect.snapshot_cluster(cluster, started_at=SIM_TIME)

    assert first.pk == again.pk
    assert Snapshot.objects.count() == 1
    assert NamespaceObservation.objects.filter(snapshot=first).count() == first.namespaces_total
