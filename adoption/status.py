"""Health of meshboard's own machinery, as users should see it (not just probes)."""

from __future__ import annotations

import redis

from .locks import redis_client


def polling_paused() -> bool:
    """True when the broker (Redis) does not answer: pages still render from Postgres, but no
    poll can be scheduled, so every page says so."""
    try:
        return not redis_client().ping()
    except (redis.exceptions.RedisError, OSError):
        return True
