"""Celery wiring: the beat tick enqueues polls that a real worker executes over a real broker."""

from __future__ import annotations

import time
import uuid

import pytest
from django.conf import settings

from adoption import collect, tasks
from adoption.locks import cluster_lock, redis_client
from adoption.models import Cluster, Snapshot, SnapshotStatus


@pytest.fixture(scope="session")
def celery_config():  # type: ignore[no-untyped-def]
    # The project's real broker (Redis), on a queue of this run's own.
    return {
        "broker_url": settings.CELERY_BROKER_URL,
        "task_default_queue": f"meshboard-test-{uuid.uuid4().hex[:8]}",
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
    }


@pytest.fixture(scope="session")
def celery_worker_parameters():  # type: ignore[no-untyped-def]
    return {"perform_ping_check": False}


@pytest.fixture
def close_worker_connections():  # type: ignore[no-untyped-def]
    """The in-process worker thread opens its own DB connection; close it after each task, as
    Celery's Django fixup does in a real worker, so the test database can be dropped."""
    from celery.signals import task_postrun
    from django.db import connections

    def close(**kwargs: object) -> None:
        connections.close_all()

    task_postrun.connect(close, weak=False)
    yield
    task_postrun.disconnect(close)


@pytest.mark.django_db(transaction=True)
def test_it_polls_due_clusters_through_a_worker(
    close_worker_connections, celery_app, celery_worker, sim, cluster
):  # type: ignore[no-untyped-def]
    enqueued = tasks.poll_due_clusters()

    assert enqueued == [cluster.pk]
    deadline = time.monotonic() + 60
    while not Snapshot.objects.filter(cluster=cluster, status=SnapshotStatus.OK).exists():
        assert time.monotonic() < deadline, "no snapshot after 60 s"
        time.sleep(0.2)
    cluster.refresh_from_db()
    assert cluster.next_poll_at is not None
    assert tasks.poll_due_clusters() == [], "not due again before its interval"


@pytest.mark.django_db
def test_it_never_polls_one_cluster_twice_at_once(sim, cluster):  # type: ignore[no-untyped-def]
    with cluster_lock(cluster.pk) as first:
        assert first
        assert tasks.poll_cluster(cluster.pk) == "locked"
    assert not Snapshot.objects.exists()
    assert tasks.poll_cluster(cluster.pk) == SnapshotStatus.OK


@pytest.mark.django_db
def test_it_skips_disabled_clusters(sim, cluster):  # type: ignore[no-untyped-def]
    Cluster.objects.filter(pk=cluster.pk).update(enabled=False)
    assert tasks.poll_due_clusters() == []
    assert tasks.poll_cluster(cluster.pk) == "gone"


def test_it_expires_the_lock_beyond_the_hard_time_limit() -> None:
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_TIME_LIMIT < settings.MESHBOARD_POLL_LOCK_TTL
    assert (
        settings.MESHBOARD_POLL_LOCK_TTL
        < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    )
    with cluster_lock(987654) as held:
        assert held
        ttl = redis_client().pttl("meshboard:poll-lock:987654")
        assert (
            settings.CELERY_TASK_TIME_LIMIT * 1000 < ttl <= settings.MESHBOARD_POLL_LOCK_TTL * 1000
        )


@pytest.mark.django_db
def test_it_reaps_polls_abandoned_by_a_lost_worker(sim, cluster):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    # queued up to one interval, then killed at the hard time limit: dead after both (+ margin)
    life = settings.CELERY_TASK_TIME_LIMIT + cluster.poll_interval + tasks.REAP_MARGIN_SECONDS
    old = Snapshot.objects.create(cluster=cluster, started_at=now - timedelta(seconds=life + 5))
    recent = Snapshot.objects.create(cluster=cluster, started_at=now - timedelta(seconds=life - 5))

    assert tasks.reap_abandoned(now) == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == SnapshotStatus.FAILED and "abandoned" in old.error
    assert recent.status == SnapshotStatus.RUNNING

    # the task redelivered afterwards re-runs the poll under the same row
    snap = collect.snapshot_cluster(cluster, started_at=old.started_at)
    assert snap.pk == old.pk and snap.status == SnapshotStatus.OK and snap.attempts == 1
