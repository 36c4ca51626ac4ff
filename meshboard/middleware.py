"""Middleware of meshboard's own."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connections
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)


class RetryOnLostConnection:
    """Answer a read (GET/HEAD) once more when its database connection died under it.

    ``CONN_HEALTH_CHECKS`` only catches a connection that died *between* requests; one killed
    during a request (a failover, a restarted pgbouncer, ``pg_terminate_backend``) would be a
    500 although a fresh connection answers at once. First in MIDDLEWARE, so the repeat covers
    sessions, authentication and the view; writes are never repeated.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 500 and request.method in ("GET", "HEAD") and _lost_connection():
            log.warning(
                "database connection lost during %s %s; retrying once", request.method, request.path
            )
            connections.close_all()
            response = self.get_response(request)
        return response


def _lost_connection() -> bool:
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.in_atomic_block and not conn.is_usable():
            return True
    return False
