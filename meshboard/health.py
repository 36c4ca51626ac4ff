"""Readiness: the database and Redis must answer. Liveness is `adoption.views.healthz`."""

from __future__ import annotations

import redis.asyncio
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from health_check.views import HealthCheckView


def _redis() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3
    )


readyz = login_not_required(
    HealthCheckView.as_view(
        checks=(
            "health_check.checks.Database",
            ("health_check.contrib.redis.Redis", {"client_factory": _redis}),
        )
    )
)
