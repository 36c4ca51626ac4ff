"""Whole rendered page bodies, cached per data version.

A page is a *shell* (navigation, the user's name, the logout form's CSRF token, the "polling
paused" banner, messages), rendered on every request, around a *body* (figures, charts, tables)
that depends only on the data, the query string, the day and whether the viewer is staff. The
body is rendered once per (page, query string, `progress.data_version`, day, staff or not) and
kept in the per-process cache, so a repeated view costs the session and user lookups, the
data-version query and a cache hit.

Body templates are rendered *without the request*: no context processor runs and
``{% csrf_token %}`` renders nothing, and their only user data is ``user.is_staff``, so nothing
of one user can be served to another.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from .. import progress
from ..models import Tribe

# Polling health (last status, last error of each cluster) changes on a failed poll too, which
# `data_version` does not see: it is cached for this long only.
HEALTH_SECONDS = 10

# One build per key and process at a time: twenty readers arriving just after a poll wait for
# the first one's build instead of computing the same figures twenty times on two cores.
_building: dict[str, threading.Lock] = {}
_building_guard = threading.Lock()


def data_version(request: HttpRequest) -> str:
    """`progress.data_version()`, queried once per request (the navigation reuses it)."""
    version: str | None = getattr(request, "meshboard_data_version", None)
    if version is None:
        version = progress.data_version()
        request.meshboard_data_version = version  # type: ignore[attr-defined]
    return version


def query_key(request: HttpRequest, fields: Iterable[str]) -> str:
    """The query string reduced to the parameters a page reads, in a stable order (other
    parameters do not change the page, so they do not make new cache entries)."""
    return urlencode(sorted((k, v) for k in set(fields) for v in request.GET.getlist(k)))


def _key(prefix: str, parts: Iterable[object]) -> str:
    return prefix + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def cached_or_build(key: str, seconds: int, build: Callable[[], Any]) -> Any:
    """``cache.get(key)``, else ``build()`` stored for ``seconds`` — built by one thread of
    this process at a time per key (the others wait for it and then read its result)."""
    value = cache.get(key)
    if value is not None:
        return value
    with _building_guard:
        lock = _building.setdefault(key, threading.Lock())
    with lock:
        value = cache.get(key)
        if value is None:
            value = build()
            cache.set(key, value, seconds)
    with _building_guard:
        _building.pop(key, None)
    return value


def cached_body(
    request: HttpRequest,
    kind: str,
    params: dict[str, object],
    template: str,
    build: Callable[[], dict[str, Any]],
) -> str:
    """The rendered body of page ``kind`` for these ``params`` (everything the view reads from
    the URL and query string), built with ``build()`` into ``template`` when not cached."""
    is_staff = bool(getattr(request.user, "is_staff", False))
    parts = [kind, data_version(request), timezone.now().date().isoformat(), f"staff={is_staff}"]
    parts += [f"{k}={v}" for k, v in sorted(params.items())]

    def render_body() -> str:
        ctx = build()
        ctx["user"] = {"is_staff": is_staff}  # the only user data a body may use
        return render_to_string(template, ctx)

    return str(
        cached_or_build(_key("body:", parts), settings.MESHBOARD_PAGE_CACHE_SECONDS, render_body)
    )


def cached_fragment(
    request: HttpRequest, kind: str, template: str, build: Callable[[], dict[str, Any]]
) -> str:
    """A user-independent fragment that may change without a new data version (polling
    health), rendered at most every HEALTH_SECONDS."""
    key = _key("fragment:", [kind, data_version(request)])
    seconds = min(HEALTH_SECONDS, settings.MESHBOARD_PAGE_CACHE_SECONDS)
    return str(cached_or_build(key, seconds, lambda: render_to_string(template, build())))


def render_page(
    request: HttpRequest, title: str, body: str, after: str = "", *, status: int = 200
) -> HttpResponse:
    """The shell around a cached body (and an optional fragment after it)."""
    ctx = {"title": title, "body": mark_safe(body), "after": mark_safe(after)}  # noqa: S308 - rendered by our templates
    return render(request, "adoption/page.html", ctx, status=status)


def tribe_names(request: HttpRequest) -> list[str] | None:
    """The tribes for the navigation, cached per data version when this request already knows
    it (pages with cached bodies); None otherwise (the caller queries them)."""
    version = getattr(request, "meshboard_data_version", None)
    if version is None:
        return None
    return list(
        cached_or_build(
            _key("tribes:", [version]),
            settings.MESHBOARD_PAGE_CACHE_SECONDS,
            lambda: list(Tribe.objects.order_by("name").values_list("name", flat=True)),
        )
    )
