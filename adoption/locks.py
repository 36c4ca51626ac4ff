"""Per-cluster Redis lock: one cluster is never polled twice at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import redis
from django.conf import settings


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


@contextmanager
def cluster_lock(cluster_id: int, client: redis.Redis | None = None) -> Iterator[bool]:
    """Yield True while holding the lock for ``cluster_id``; False when another poll holds it.

    The lock expires after ``MESHBOARD_POLL_LOCK_TTL`` (beyond the task's hard time limit), so a
    SIGKILLed worker cannot block its cluster forever.
    """
    lock = (client or redis_client()).lock(
        f"meshboard:poll-lock:{cluster_id}",
        timeout=settings.MESHBOARD_POLL_LOCK_TTL,
        blocking=False,
    )
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass  # expired meanwhile; nothing to release
