"""API discovery: server version and which Istio API groups/versions a cluster serves."""

from __future__ import annotations

from dataclasses import dataclass, field

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .errors import KubeError
from .listing import ListOptions, translate

ISTIO_GROUPS = ("networking.istio.io", "security.istio.io")


@dataclass
class Discovery:
    server_version: str = ""
    # group -> preferred version, only for groups the cluster serves
    groups: dict[str, str] = field(default_factory=dict)


def discover(api: client.ApiClient, opts: ListOptions) -> Discovery:
    """Read ``/version`` and ``/apis``; a cluster without Istio CRDs is valid, not an error."""
    host = api.configuration.host
    timeout = (opts.connect_timeout, opts.read_timeout)
    try:
        version = client.VersionApi(api).get_code(_request_timeout=timeout)
        groups = client.ApisApi(api).get_api_versions(_request_timeout=timeout)
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise translate(exc, "API discovery", host) from None
    except ValueError as exc:  # pydantic validation of a malformed discovery document
        raise KubeError(
            f"malformed API discovery document from {host}: {type(exc).__name__}"
        ) from None
    found: dict[str, str] = {}
    for g in groups.groups or []:
        if g.preferred_version is not None:
            found[g.name] = g.preferred_version.version
    return Discovery(server_version=version.git_version or "", groups=found)
