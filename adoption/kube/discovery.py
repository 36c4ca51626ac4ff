"""API discovery: server version and which Istio API groups/versions a cluster serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from .errors import KubeMalformed, KubeServerError, safe_host
from .listing import ListOptions, ListStats, _Expired, call_with_retries

ISTIO_GROUPS = ("networking.istio.io", "security.istio.io")


@dataclass
class Discovery:
    server_version: str = ""
    # group -> preferred version, only for groups the cluster serves
    groups: dict[str, str] = field(default_factory=dict)


def discover(api: client.ApiClient, opts: ListOptions, stats: ListStats | None = None) -> Discovery:
    """Read ``/version`` and ``/apis``; a cluster without Istio CRDs is valid, not an error.

    Each request is retried like a list page (`call_with_retries`): 429/5xx, connection errors
    and malformed documents with backoff, a 410 never happens here.
    """
    host = safe_host(api.configuration.host)
    stats = stats if stats is not None else ListStats()
    what = "API discovery"

    def version(timeout: tuple[float, float]) -> Any:
        try:
            return client.VersionApi(api).get_code(_request_timeout=timeout)
        except ValueError as exc:  # pydantic validation of a malformed discovery document
            raise KubeMalformed(
                f"malformed API discovery document (/version) from {host}: {type(exc).__name__}",
                resource=what,
            ) from None

    def groups(timeout: tuple[float, float]) -> Any:
        try:
            return client.ApisApi(api).get_api_versions(_request_timeout=timeout)
        except ValueError as exc:
            raise KubeMalformed(
                f"malformed API discovery document (/apis) from {host}: {type(exc).__name__}",
                resource=what,
            ) from None

    try:
        info = call_with_retries(version, what, host, opts, stats)
        group_list = call_with_retries(groups, what, host, opts, stats)
    except _Expired:
        raise KubeServerError(f"HTTP 410 Gone during {what} on {host}", status=410) from None
    found: dict[str, str] = {}
    for g in group_list.groups or []:
        if g.preferred_version is not None:
            found[g.name] = g.preferred_version.version
    return Discovery(server_version=info.git_version or "", groups=found)
