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
