"""Thin Celery tasks: take an id, load the row, call a plain function."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.utils import timezone

from . import collect, history
from .locks import cluster_lock
from .models import Cluster, Snapshot, SnapshotStatus

log = logging.getLogger(__name__)


@shared_task(name="adoption.tasks.poll_due_clusters")
def poll_due_clusters() -> list[int]:
    """Beat tick: enqueue `poll_cluster` for every enabled cluster whose interval has passed.

    Each cluster is claimed with a conditional UPDATE of ``next_poll_at`` so that two ticks (or
    two beats, by mistake) never enqueue the same cluster twice for one interval.
    """
    now = timezone.now()
    reap_abandoned(now)
    enqueued = []
    for cluster in Cluster.objects.due(now).only("pk", "poll_interval", "next_poll_at"):
        claimed = Cluster.objects.filter(pk=cluster.pk, next_poll_at=cluster.next_poll_at).update(
            next_poll_at=now + timedelta(seconds=cluster.poll_interval)
        )
        if claimed:
            # A poll still queued when its next one is due is dropped, not stacked: under
            # overload the queue holds at most one poll per cluster.
            poll_cluster.apply_async((cluster.pk, now.isoformat()), expires=cluster.poll_interval)
            enqueued.append(cluster.pk)
    return enqueued


#: Clock skew and scheduling slack on top of the hard time limit before a poll counts as dead.
REAP_MARGIN_SECONDS = 30


def reap_abandoned(now: datetime) -> int:
    """Mark failed the snapshots left ``running`` longer than a poll can live (its worker died:
    killed, out of memory): the platform team sees a failed poll instead of one running forever.
    A redelivery of the same task later re-runs it under the same row (`collect._claim`)."""
    # started_at is the scheduled time: a poll may wait up to one interval in the queue (its
    # message expires then), then run at most the hard time limit (Celery kills it there).
    limit = ExpressionWrapper(
        Value(now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + REAP_MARGIN_SECONDS))
        - F("cluster__poll_interval") * Value(timedelta(seconds=1)),
        output_field=DateTimeField(),
    )
    abandoned = Snapshot.objects.filter(status=SnapshotStatus.RUNNING, started_at__lt=limit)
    return Snapshot.objects.filter(pk__in=abandoned.values("pk")).update(
        status=SnapshotStatus.FAILED,
        finished_at=now,
        error="abandoned: no worker finished this poll in time (its worker was lost)",
    )


@shared_task(
    bind=True,
    name="adoption.tasks.poll_cluster",
    # Explicit, whatever the global settings say: a poll whose worker dies is redelivered and
    # re-run (the snapshot row keyed by (cluster, scheduled_at) makes that idempotent).
    acks_late=True,
    reject_on_worker_lost=True,
)
def poll_cluster(self: Task, cluster_id: int, scheduled_at: str | None = None) -> str:
    """Poll one cluster under its lock. The scheduled time is the snapshot's idempotency key."""
    cluster = Cluster.objects.filter(pk=cluster_id, enabled=True).first()
    if cluster is None:
        return "gone"
    started_at = datetime.fromisoformat(scheduled_at) if scheduled_at else timezone.now()
    if timezone.is_naive(started_at):
        started_at = timezone.make_aware(started_at, UTC)
    # The task id as lock token: a redelivery of this very task may take over the lock its
    # killed predecessor still holds (see `cluster_lock`).
    token = f"task:{self.request.id}" if self.request.id else None
    with cluster_lock(cluster.pk, token=token) as acquired:
        if not acquired:
            log.info("cluster %s is already being polled; skipping", cluster.name)
            return "locked"
        snap = collect.snapshot_cluster(cluster, started_at=started_at)
    return snap.status


@shared_task(name="adoption.tasks.apply_retention")
def apply_retention() -> dict[str, int]:
    """Daily: thin old snapshots to one per cluster and day, expire the oldest (batched)."""
    return history.apply_retention()
