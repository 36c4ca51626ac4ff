"""Errors raised by cluster access, each with a message safe to show and store.

Messages never contain credentials: they name the cluster's API host, the resource and the HTTP
status, and say what to do about it.
"""

from __future__ import annotations


class KubeError(Exception):
    """A cluster could not be read. ``kind`` is a short machine-readable category."""

    kind = "error"

    def __init__(self, message: str, *, resource: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.resource = resource
        self.status = status

    def __str__(self) -> str:
        return self.message


class KubeConfigError(KubeError):
    kind = "config"


class KubeUnreachable(KubeError):
    kind = "unreachable"


class KubeTimeout(KubeUnreachable):
    """A request (or the poll's whole time budget) ran out of time."""

    kind = "timeout"


class KubeAuthError(KubeError):
    kind = "unauthorized"


class KubeForbidden(KubeError):
    """RBAC refused one resource: recorded as a gap, the rest of the snapshot stands."""

    kind = "forbidden"


class KubeNotFound(KubeError):
    kind = "not_found"


class KubeMalformed(KubeError):
    kind = "malformed"


class KubeServerError(KubeError):
    kind = "server"


def safe_host(url: str) -> str:
    """The API server as it may appear in messages: scheme, host, port and path, never the
    user:password a URL can carry, nor its query string."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "(unparsable API server URL)"
