"""Fixtures of the security / bad-input / degradation suite (real Postgres, Redis, kubesim)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adoption.locks import redis_client


@pytest.fixture(autouse=True)
def _fresh_redis_client() -> Iterator[None]:
    """`redis_client` is cached per process: tests that repoint REDIS_URL must not leak it."""
    redis_client.cache_clear()
    yield
    redis_client.cache_clear()
