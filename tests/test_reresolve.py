"""Re-resolution after an ownership change: stored observations and rollups follow the new
owner, and the rollups still equal direct counts over the observations."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.management import call_command

from adoption import collect
from adoption.models import (
    DailyRollup,
    NamespaceObservation,
    OwnershipRule,
    Snapshot,
    SnapshotRollup,
    Tribe,
    WorkloadObservation,
)
from adoption.store import COUNT_FIELDS, ENABLED_NAMESPACE_CLASSES, STATE_COUNTER

pytestmark = pytest.mark.django_db

NEW_TRIBE = "reorg-tribe"


def _poll_two_days(sim, cluster):  # type: ignore[no-untyped-def]
    snaps = []
    for day in (40, 41):
        at = sim.fleet.start_of_day(day) + timedelta(hours=12)
        sim.set_time(at)
        snap = collect.snapshot_cluster(cluster, started_at=at)
        assert snap.status == "ok", snap.error
        snaps.append(snap)
    return snaps


def _direct_counts(snap: Snapshot) -> dict[str, dict[str, int]]:
    """Per tribe, counted straight from the observations (system namespaces left out)."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_FIELDS, 0))
    for w in WorkloadObservation.objects.filter(snapshot=snap, system=False):
        c = per[w.tribe]
        c["pods_total"] += w.pods_total
        c["pods_meshed"] += w.pods_meshed
        if w.pods_total == 0 or w.state == "idle":
            c["workloads_idle"] += 1
            continue
        c["workloads_total"] += 1
        c["workloads_meshed"] += w.state == "meshed"
        if w.state in STATE_COUNTER:
            c[STATE_COUNTER[w.state]] += 1
    for ns in NamespaceObservation.objects.filter(snapshot=snap, system=False):
        per[ns.tribe]["namespaces_total"] += 1
        per[ns.tribe]["namespaces_enabled"] += ns.injection in ENABLED_NAMESPACE_CLASSES
    return {t: c for t, c in per.items()}


FIELDS = (
    "pods_total", "pods_meshed", "workloads_total", "workloads_meshed", "workloads_idle",
    "workloads_missing", "workloads_not_enrolled", "namespaces_total", "namespaces_enabled",
)  # fmt: skip


def _rollup_by_tribe(rows) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    for r in rows:
        for f in FIELDS:
            per[r.tribe][f] += getattr(r, f)
    return {t: c for t, c in per.items() if any(c.values())}


def _assert_rollups_match_observations(snap: Snapshot) -> None:
    direct = {
        t: {f: c[f] for f in FIELDS}
        for t, c in _direct_counts(snap).items()
        if any(c[f] for f in FIELDS)
    }
    assert _rollup_by_tribe(SnapshotRollup.objects.filter(snapshot=snap)) == direct
    assert _rollup_by_tribe(DailyRollup.objects.filter(snapshot=snap)) == direct


def test_reresolve_moves_a_namespace_to_its_new_tribe(sim, cluster):  # type: ignore[no-untyped-def]
    snaps = _poll_two_days(sim, cluster)
    moved = (
        NamespaceObservation.objects.filter(snapshot=snaps[-1], system=False)
        .exclude(tribe="")
        .filter(workloads_total__gt=0)
        .order_by("namespace")
        .first()
    )
    assert moved is not None
    old_tribe = moved.tribe
    before = {s.pk: _direct_counts(s) for s in snaps}
    OwnershipRule.objects.create(kind="tribe", namespace_pattern=moved.namespace, value=NEW_TRIBE)

    call_command("reresolve_ownership", since=str(snaps[0].started_at.date()))

    for snap in snaps:
        assert set(
            NamespaceObservation.objects.filter(
                snapshot=snap, namespace=moved.namespace
            ).values_list("tribe", flat=True)
        ) == {NEW_TRIBE}
        assert set(
            WorkloadObservation.objects.filter(
                snapshot=snap, namespace=moved.namespace
            ).values_list("tribe", flat=True)
        ) == {NEW_TRIBE}
        assert SnapshotRollup.objects.filter(snapshot=snap, tribe=NEW_TRIBE).exists()
        assert DailyRollup.objects.filter(snapshot=snap, tribe=NEW_TRIBE).exists()
        _assert_rollups_match_observations(snap)
        # the organisation's totals did not change, only who owns them
        after = _direct_counts(snap)
        for f in ("pods_total", "pods_meshed", "workloads_total", "namespaces_total"):
            assert sum(c[f] for c in after.values()) == sum(c[f] for c in before[snap.pk].values())
        old_after = after.get(old_tribe, {}).get("namespaces_total", 0)
        assert old_after == before[snap.pk][old_tribe]["namespaces_total"] - 1
    # the new tribe exists in the org chart, as if a poll had seen it first
    assert Tribe.objects.filter(name=NEW_TRIBE).exists()
    # a new poll agrees with the re-resolved history
    at = snaps[-1].started_at + timedelta(hours=1)
    fresh = collect.snapshot_cluster(cluster, started_at=at)
    assert _direct_counts(fresh) == _direct_counts(snaps[-1])


def test_reresolve_uses_each_snapshots_own_labels(sim, cluster):  # type: ignore[no-untyped-def]
    """A namespace relabelled between two polls keeps, in each snapshot, the tribe of the labels
    it had at that poll: re-resolution must not carry one snapshot's answer into another."""
    first, second = _poll_two_days(sim, cluster)
    ns = (
        NamespaceObservation.objects.filter(snapshot=first, system=False)
        .exclude(tribe="")
        .order_by("namespace")
        .first()
    )
    assert ns is not None
    original = ns.tribe
    relabelled = NamespaceObservation.objects.get(snapshot=second, namespace=ns.namespace)
    relabelled.labels = {**relabelled.labels, "tribe": "relabelled"}
    relabelled.save(update_fields=["labels"])

    call_command("reresolve_ownership", since=str(first.started_at.date()))

    tribe_in = dict(
        NamespaceObservation.objects.filter(namespace=ns.namespace).values_list(
            "snapshot_id", "tribe"
        )
    )
    assert tribe_in == {first.pk: original, second.pk: "relabelled"}
    assert set(
        WorkloadObservation.objects.filter(snapshot=second, namespace=ns.namespace).values_list(
            "tribe", flat=True
        )
    ) <= {"relabelled"}
    _assert_rollups_match_observations(second)
