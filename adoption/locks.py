"""Per-cluster Redis lock: one cluster is never polled twice at once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def lock_key(cluster_id: int) -> str:
    return f"meshboard:poll-lock:{cluster_id}"


@contextmanager
def cluster_lock(
    cluster_id: int, client: redis.Redis | None = None, *, token: str | None = None
) -> Iterator[bool]:
    """Yield True while holding the lock for ``cluster_id``; False when another poll holds it.

    The lock expires after ``MESHBOARD_POLL_LOCK_TTL`` (beyond the task's hard time limit), so a
    SIGKILLed worker cannot block its cluster forever.

    ``token`` identifies the holder (the Celery task id). A *redelivery* of the same task, after
    its worker was killed mid-poll, finds the lock still held under its own token: it takes the
    lock over instead of waiting out the TTL, so a killed poll is re-run at once. (A second live
    execution of one task id cannot exist: the broker redelivers only after the worker is lost or
    after the visibility timeout, which is longer than the hard time limit.) Without a token
    (direct calls) or under another token, a held lock means "locked".
    """
    lock = (client or redis_client()).lock(
        lock_key(cluster_id),
        timeout=settings.MESHBOARD_POLL_LOCK_TTL,
        blocking=False,
    )
    acquired = lock.acquire(token=token) if token else lock.acquire()
    if not acquired and token:
        lock.local.token = lock.redis.get_encoder().encode(token)
        try:
            acquired = bool(lock.reacquire())  # atomic: only if the stored token is ours
        except redis.exceptions.LockError:
            acquired = False
        if not acquired:
            lock.local.token = None
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass  # expired meanwhile; nothing to release
            except redis.exceptions.RedisError:
                # Redis restarted or unreachable: the lock is gone with it or expires by TTL;
                # the poll's outcome is already stored, so this must not fail the task.
                log.warning("could not release the poll lock of cluster %s", cluster_id)
