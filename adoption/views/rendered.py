"""Whole rendered page bodies, cached per data version.

A page is a *shell* (navigation, the user's name, the logout form's CSRF token, the "polling
paused" banner, messages), rendered on every request, around a *body* (figures, charts, tables)
that depends only on the data, the query string, the day and whether the viewer is staff. The
body is rendered once per (page, query string, `progress.data_version`, day, staff or not) and
kept in the per-process cache, so a repeated view costs the session and user lookups, the
data-version query and a cache hit.

Body templates are rendered with a bare request (`page_request`: the path and the page's own
query parameters, no user, session, cookies or headers), and their only user data is
``user.is_staff``, so nothing of one user can be served to another (``{% csrf_token %}`` in a
body would be a token of no session: keep forms that POST in the shell or in uncached pages).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from .. import progress
from ..models import Tribe

# Polling health (last status, last error of each cluster) changes on a failed poll too, which
# `data_version` does not see: it is cached for this long only.
HEALTH_SECONDS = 10

# One build per key and process at a time: readers arriving while it runs get the previous
# version of the same page when there is one (for the second or so the build takes, well within
# a poll interval), otherwise they wait for the build rather than computing the same figures
# twenty times over on two cores.
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


def cached_or_build(
    key: str, seconds: int, build: Callable[[], Any], *, latest: str | None = None
) -> Any:
    """``cache.get(key)``, else ``build()`` stored for ``seconds``, built by one thread of this
    process at a time. With ``latest`` (the same page under any data version), the others are
    answered with the last version built while it runs; without, they wait for it."""
    value = cache.get(key)
    if value is not None:
        return value
    with _building_guard:
        lock = _building.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        previous = cache.get(latest) if latest else None
        if previous is not None:
            return previous
        lock.acquire()
    try:
        value = cache.get(key)
        if value is None:
            value = build()
            cache.set(key, value, seconds)
            if latest:
                cache.set(latest, value, seconds)
    finally:
        lock.release()
        with _building_guard:
            if _building.get(key) is lock:
                del _building[key]
    return value


def page_request(request: HttpRequest, fields: Iterable[str]) -> HttpRequest:
    """A bare GET request with the path and the ``fields`` of the query string only: what a
    body may know of its request (tables read their sort and page from it). No user, session,
    cookies or headers."""
    bare = HttpRequest()
    bare.method = "GET"
    bare.path = bare.path_info = request.path
    bare.GET = QueryDict(query_key(request, fields))
    return bare


def cached_body(
    request: HttpRequest,
    kind: str,
    template: str,
    build: Callable[[HttpRequest], dict[str, Any]],
    *,
    fields: Iterable[str],
    params: dict[str, object] | None = None,
) -> str:
    """The rendered body of page ``kind``: ``build(bare)`` rendered into ``template``, cached
    per data version, day, staff or not, URL ``params`` and the query string's ``fields``.
    ``bare`` is `page_request` (only those fields of the query string)."""
    is_staff = bool(getattr(request.user, "is_staff", False))
    bare = page_request(request, fields)
    page = [kind, f"staff={is_staff}", bare.GET.urlencode()]
    page += [f"{k}={v}" for k, v in sorted((params or {}).items())]
    version = [data_version(request), timezone.now().date().isoformat()]

    def render_body() -> str:
        ctx = build(bare)
        ctx["user"] = {"is_staff": is_staff}  # the only user data a body may use
        return render_to_string(template, ctx, request=bare)

    seconds = settings.MESHBOARD_PAGE_CACHE_SECONDS
    key, latest = _key("body:", page + version), _key("latest-body:", page)
    return str(cached_or_build(key, seconds, render_body, latest=latest))


def cached_fragment(
    request: HttpRequest, kind: str, template: str, build: Callable[[], dict[str, Any]]
) -> str:
    """A user-independent fragment that may change without a new data version (polling
    health), rendered at most every HEALTH_SECONDS."""
    key = _key("fragment:", [kind, data_version(request)])
    seconds = min(HEALTH_SECONDS, settings.MESHBOARD_PAGE_CACHE_SECONDS)
    return str(
        cached_or_build(
            key,
            seconds,
            lambda: render_to_string(template, build()),
            latest=_key("latest-fragment:", [kind]),
        )
    )


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
