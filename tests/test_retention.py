"""Retention keeps exactly what it promises: every snapshot in the recent window with its
observations, the last good snapshot of each cluster and day after that, daily rollups forever."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from adoption import history, store
from adoption.models import (
    AuthMethod,
    Cluster,
    DailyRollup,
    NamespaceObservation,
    Snapshot,
    SnapshotRollup,
    SnapshotStatus,
    WorkloadObservation,
)
from adoption.store import NamespaceRow, WorkloadRow

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
FULL_DAYS, DAILY_DAYS, SPAN_DAYS = 5, 12, 22
HOURS = (6, 12, 18)


def _rows(i: int) -> tuple[list[WorkloadRow], list[NamespaceRow]]:
    workloads = [
        WorkloadRow(
            namespace="shop",
            kind="Deployment",
            name=f"w{n}",
            tribe="commerce",
            squad="cart",
            system=False,
            state="meshed" if n <= i % 3 else "not-enrolled",
            pods_total=2,
            pods_meshed=2 if n <= i % 3 else 0,
        )
        for n in range(3)
    ]
    namespaces = [NamespaceRow("shop", "commerce", "sidecar-default", "", False, 6, 2, 3, 1)]
    return workloads, namespaces


def _status(day: int, hour: int, cluster: int) -> str:
    """Mostly ok; some days' last poll failed, one poll is stuck running."""
    if hour == 18 and day % 3 == cluster:
        return SnapshotStatus.FAILED
    if hour == 6 and day % 7 == 0:
        return SnapshotStatus.RUNNING
    return SnapshotStatus.OK


@pytest.fixture
def stored(settings):  # type: ignore[no-untyped-def]
    settings.MESHBOARD_RETENTION_FULL_DAYS = FULL_DAYS
    settings.MESHBOARD_RETENTION_DAILY_DAYS = DAILY_DAYS
    clusters = [
        Cluster.objects.create(name=n, auth_method=AuthMethod.KUBECONFIG, kubeconfig_path="/x")
        for n in ("alpha", "beta")
    ]
    i = 0
    for day in range(SPAN_DAYS, -1, -1):
        for hour in HOURS:
            at = NOW - timedelta(days=day) + timedelta(hours=hour)
            if at > NOW:
                continue
            for c_index, cluster in enumerate(clusters):
                status = _status(day, hour, c_index)
                snap = Snapshot.objects.create(cluster=cluster, started_at=at, status=status)
                if status == SnapshotStatus.OK:
                    with transaction.atomic():
                        store.write_snapshot(snap, *_rows(i))
                i += 1
    return clusters


def _expected_kept() -> set[int]:
    full_cutoff = NOW - timedelta(days=FULL_DAYS)
    daily_cutoff = NOW - timedelta(days=DAILY_DAYS)
    kept = set(Snapshot.objects.filter(started_at__gte=full_cutoff).values_list("pk", flat=True))
    last_ok: dict[tuple[int, object], Snapshot] = {}
    for snap in Snapshot.objects.ok().filter(
        started_at__lt=full_cutoff, started_at__gte=daily_cutoff
    ):
        key = (snap.cluster_id, snap.started_at.date())
        if key not in last_ok or snap.started_at > last_ok[key].started_at:
            last_ok[key] = snap
    return kept | {s.pk for s in last_ok.values()}


def _observation_counts() -> dict[int, tuple[int, int]]:
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for sid in NamespaceObservation.objects.values_list("snapshot_id", flat=True):
        counts[sid][0] += 1
    for sid in WorkloadObservation.objects.values_list("snapshot_id", flat=True):
        counts[sid][1] += 1
    return {k: (a, b) for k, (a, b) in counts.items()}


def _daily() -> list[tuple[object, ...]]:
    return sorted(
        DailyRollup.objects.values_list(
            "day", "cluster_id", "tribe", "squad", "pods_total", "pods_meshed", "workloads_meshed"
        )
    )


@pytest.mark.parametrize("batch", [200, 2])
def test_retention_keeps_exactly_what_it_promises(stored, batch):  # type: ignore[no-untyped-def]
    full_cutoff = NOW - timedelta(days=FULL_DAYS)
    daily_cutoff = NOW - timedelta(days=DAILY_DAYS)
    expected = _expected_kept()
    before_obs = _observation_counts()
    before_daily = _daily()
    in_window_rollups = set(
        SnapshotRollup.objects.filter(observed_at__gte=full_cutoff).values_list("pk", flat=True)
    )
    assert Snapshot.objects.filter(started_at__lt=daily_cutoff).exists()  # something to expire
    assert len({(d[0], d[1]) for d in before_daily}) == 2 * SPAN_DAYS
    total = Snapshot.objects.count()

    result = history.apply_retention(now=NOW, batch=batch)

    kept = set(Snapshot.objects.values_list("pk", flat=True))
    assert kept == expected
    assert result["snapshots_thinned"] + result["snapshots_expired"] == total - len(kept)
    # every snapshot inside the window is kept, whatever its status, with all its observations
    inside = Snapshot.objects.filter(started_at__gte=full_cutoff)
    assert inside.count() == 2 * (FULL_DAYS * len(HOURS))
    after_obs = _observation_counts()
    for pk in kept:
        assert after_obs.get(pk) == before_obs.get(pk), "a kept snapshot lost observations"
    # outside the window: exactly one good snapshot per cluster and day, the day's last good one
    outside = Snapshot.objects.filter(started_at__lt=full_cutoff)
    assert set(outside.values_list("status", flat=True)) == {SnapshotStatus.OK}
    days = list(outside.values_list("cluster_id", "started_at"))
    per_day = {(c, at.date()) for c, at in days}
    assert len(per_day) == len(days) == 2 * (DAILY_DAYS - FULL_DAYS)
    # nothing older than the daily window
    assert not Snapshot.objects.filter(started_at__lt=daily_cutoff).exists()
    # daily rollups are kept forever, unchanged (their snapshot link cleared once it is gone)
    assert _daily() == before_daily
    assert not DailyRollup.objects.filter(day__gte=daily_cutoff.date(), snapshot__isnull=True)
    orphaned = DailyRollup.objects.filter(day__lt=daily_cutoff.date(), snapshot__isnull=True)
    assert len(set(orphaned.values_list("day", "cluster_id"))) == 2 * (SPAN_DAYS - DAILY_DAYS)
    # per-snapshot rollups only in the window, and all of them there
    assert not SnapshotRollup.objects.filter(observed_at__lt=full_cutoff).exists()
    assert set(SnapshotRollup.objects.values_list("pk", flat=True)) == in_window_rollups
    assert result["snapshot_rollups_deleted"] > 0

    # idempotent: a second run deletes nothing and changes nothing
    again = history.apply_retention(now=NOW, batch=batch)
    assert again == dict.fromkeys(again, 0)
    assert set(Snapshot.objects.values_list("pk", flat=True)) == expected
    assert _daily() == before_daily
