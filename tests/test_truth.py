"""End to end: poll the simulated fleet over its history; every stored workload matches the
fleet generator's ground truth (state, pods, meshed pods, tribe, squad, namespace class)."""

from __future__ import annotations

import pytest

from adoption import collect
from adoption.models import NamespaceObservation, WorkloadObservation

pytestmark = pytest.mark.django_db

DAYS = (5, 35, 65, 95)


def _compare(sim, cluster, day):  # type: ignore[no-untyped-def]
    at = sim.fleet.start_of_day(day)
    sim.set_time(at)
    snap = collect.snapshot_cluster(cluster, started_at=at)
    assert snap.status == "ok", snap.error
    truth = sim.fleet.truth(cluster.name, at)
    expected = {(r.namespace, r.kind, r.name): r for r in truth if not r.is_namespace}
    stored = {
        (w.namespace, w.kind, w.name): w for w in WorkloadObservation.objects.filter(snapshot=snap)
    }
    assert set(stored) == set(expected)
    mismatches = [
        (
            key,
            (w.state, w.pods_total, w.pods_meshed, w.tribe, w.squad),
            (e.expected_state, e.pods_total, e.pods_meshed, e.tribe or "", e.squad or ""),
        )
        for key, w in stored.items()
        for e in [expected[key]]
        if (w.state, w.pods_total, w.pods_meshed, w.tribe, w.squad)
        != (e.expected_state, e.pods_total, e.pods_meshed, e.tribe or "", e.squad or "")
    ]
    assert mismatches == []
    ns_expected = {r.namespace: r.expected_state for r in truth if r.is_namespace}
    ns_stored = dict(
        NamespaceObservation.objects.filter(snapshot=snap).values_list("namespace", "injection")
    )
    assert ns_stored == ns_expected
    return {w.state for w in stored.values()}, set(ns_stored.values())


def test_it_matches_the_ground_truth_for_every_workload_over_time(sim):  # type: ignore[no-untyped-def]
    from adoption.models import AuthMethod, Cluster

    states: set[str] = set()
    classes: set[str] = set()
    for name in sim.cluster_names:
        cluster = Cluster.objects.create(
            name=name,
            auth_method=AuthMethod.KUBECONFIG,
            kubeconfig_path=str(sim.kubeconfig_path),
            context=name,
        )
        for day in DAYS:
            s, c = _compare(sim, cluster, day)
            states |= s
            classes |= c
    assert {
        "meshed",
        "partial",
        "idle",
        "missing-proxy",
        "opted-out",
        "not-enrolled",
        "ineligible",
    } <= states
    assert {
        "system-ignored",
        "sidecar-default",
        "sidecar-revision",
        "ambient",
        "not-enrolled",
    } <= classes
