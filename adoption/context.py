"""Template context shared by every page: navigation and the polling banner."""

from __future__ import annotations

import time
from functools import cache, lru_cache

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse

from .models import Tribe
from .org import UNASSIGNED
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


@lru_cache(maxsize=64)
def _tribe_links(names: tuple[str, ...], urlconf: str, prefix: str) -> tuple[tuple[str, str], ...]:
    """(name, URL) of each tribe's page and of Unassigned, for the navigation: reversed once
    per tribe list, not on every page view."""
    return tuple((n, reverse("adoption:tribe", args=[n])) for n in (*names, UNASSIGNED))


def navigation(request: HttpRequest) -> dict[str, object]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    from .views.rendered import tribe_names

    @cache
    def nav_tribes() -> tuple[tuple[str, str], ...]:
        # called by the template only when it shows the navigation (not, e.g., in the admin)
        names = tribe_names(request)
        if names is None:
            names = list(Tribe.objects.order_by("name").values_list("name", flat=True))
        urlconf = str(get_urlconf() or settings.ROOT_URLCONF)
        return _tribe_links(tuple(names), urlconf, get_script_prefix()) if names else ()

    return {"nav_tribes": nav_tribes, "polling_paused": polling_paused_recently()}
