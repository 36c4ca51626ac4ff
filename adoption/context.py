"""Template context shared by every page: navigation and the polling banner."""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest

from .models import Tribe
from .status import polling_paused

# The broker check is a Redis round trip: done at most this often per process (and again at
# once when REDIS_URL changes), not on every page view.
PAUSED_SECONDS = 5.0
_paused: dict[str, tuple[float, bool]] = {}


def polling_paused_recently() -> bool:
    """`status.polling_paused()`, remembered for PAUSED_SECONDS."""
    url, now = str(settings.REDIS_URL), time.monotonic()
    seen = _paused.get(url)
    if seen is not None and now - seen[0] < PAUSED_SECONDS:
        return seen[1]
    paused = polling_paused()
    _paused[url] = (now, paused)
    return paused


def navigation(request: HttpRequest) -> dict[str, object]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    from .views.rendered import tribe_names

    names = tribe_names(request)
    return {
        "nav_tribes": Tribe.objects.order_by("name").values_list("name", flat=True)
        if names is None
        else names,
        "polling_paused": polling_paused_recently(),
    }
