"""Paged, raw-bytes listing of cluster resources.

Every list goes through `list_items`: ``limit``/``continue`` paging, raw bytes
(``_preload_content=False``) decoded with msgspec (building the client's models for 50k pods is
far too slow), a restart from the beginning when a continue token expires (410), bounded retries
with backoff on 429/5xx, and a request timeout on every call.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .errors import (
    KubeAuthError,
    KubeError,
    KubeForbidden,
    KubeMalformed,
    KubeNotFound,
    KubeServerError,
    KubeUnreachable,
)

PARTIAL_METADATA = (
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
)


class _ListMeta(msgspec.Struct):
    continue_: str = msgspec.field(name="continue", default="")
    resourceVersion: str = ""


class _ObjectList(msgspec.Struct):
    items: list[dict[str, Any]] | None = None
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)


_decoder = msgspec.json.Decoder(_ObjectList)


@dataclass
class ListOptions:
    page_size: int = 500
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_restarts: int = 3  # restarts of a whole list after a 410 Expired continue token
    max_retries: int = 4  # retries of one page on 429 / 5xx / connection errors
    backoff: float = 0.5  # first retry delay, doubled each time (Retry-After wins when given)
    sleep: Callable[[float], None] = time.sleep


@dataclass
class ListStats:
    """What a poll read: reported on the snapshot and the poll-health page."""

    bytes_read: int = 0
    requests: int = 0
    restarts: int = 0
    retries: int = 0
    objects: int = 0
    gaps: list[dict[str, str]] = field(default_factory=list)


Fetch = Callable[..., urllib3.HTTPResponse]


@dataclass(frozen=True)
class Resource:
    """A listable resource: a display name and how to fetch one page of it."""

    name: str
    fetch: Callable[[client.ApiClient], Fetch]
    metadata_only: bool = False


def core(method: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: getattr(client.CoreV1Api(api), method)


def apps(method: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: getattr(client.AppsV1Api(api), method)


def batch(method: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: getattr(client.BatchV1Api(api), method)


def core_in_namespace(method: str, namespace: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: functools.partial(getattr(client.CoreV1Api(api), method), namespace)


def admission(method: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: getattr(client.AdmissionregistrationV1Api(api), method)


def custom(group: str, version: str, plural: str) -> Callable[[client.ApiClient], Fetch]:
    def bind(api: client.ApiClient) -> Fetch:
        objs = client.CustomObjectsApi(api)

        def fetch(**kw: Any) -> urllib3.HTTPResponse:
            resp = objs.list_cluster_custom_object(group, version, plural, **kw)
            return cast(urllib3.HTTPResponse, resp)

        return fetch

    return bind


def translate(exc: BaseException, what: str, host: str) -> KubeError:
    """Turn a client/transport exception into a `KubeError` with an actionable message."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        if status == 401:
            return KubeAuthError(
                f"401 Unauthorized listing {what} on {host}: the token or client certificate was "
                "rejected; check the credentials the cluster's kubeconfig/token file points to",
                resource=what,
                status=status,
            )
        if status == 403:
            return KubeForbidden(
                f"403 Forbidden listing {what} on {host}: meshboard's service account lacks "
                f"get/list on {what} (see the chart's read-only ClusterRole)",
                resource=what,
                status=status,
            )
        if status == 404:
            return KubeNotFound(
                f"404 Not Found listing {what} on {host}", resource=what, status=status
            )
        if status == 0:
            return KubeUnreachable(
                f"cannot reach {host} listing {what}: {exc.reason}", resource=what
            )
        return KubeServerError(
            f"HTTP {status} {exc.reason or ''} listing {what} on {host}".replace("  ", " "),
            resource=what,
            status=status,
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        reason = type(exc).__name__
        inner = getattr(exc, "reason", None)
        if inner is not None:
            reason = f"{reason} ({type(inner).__name__})"
        return KubeUnreachable(f"cannot reach {host} listing {what}: {reason}", resource=what)
    return KubeError(f"unexpected {type(exc).__name__} listing {what} on {host}", resource=what)


def _retryable(exc: KubeError) -> bool:
    if isinstance(exc, KubeUnreachable):
        return True
    return isinstance(exc, KubeServerError) and (exc.status in (429, 500, 502, 503, 504))


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(float(value), 30.0) if value is not None else None
    except (TypeError, ValueError):
        return None


def list_pages(
    api: client.ApiClient,
    resource: Resource,
    opts: ListOptions,
    stats: ListStats,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the items of ``resource`` page by page (a consistent list).

    1. Request a page with ``limit`` and the previous page's ``continue`` token.
    2. On 410 Expired, start the whole list again (resuming with the 410's token would mix two
       snapshots), at most ``max_restarts`` times.
    3. On 429/5xx/connection errors, retry the same page with exponential backoff.
    A restart makes callers see items twice, so they must treat a restart as a reset: callers
    that need it use `list_items`, which buffers per attempt.
    """
    host = api.configuration.host
    fetch = resource.fetch(api)
    headers = {"Accept": PARTIAL_METADATA} if resource.metadata_only else None
    token = ""
    while True:
        attempt = 0
        while True:
            try:
                kwargs: dict[str, Any] = {
                    "limit": opts.page_size,
                    "_preload_content": False,
                    "_request_timeout": (opts.connect_timeout, opts.read_timeout),
                }
                if token:
                    kwargs["_continue"] = token
                if headers:
                    kwargs["_headers"] = headers
                stats.requests += 1
                resp = fetch(**kwargs)
                data = resp.data
                break
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                if isinstance(exc, ApiException) and exc.status == 410:
                    raise _Expired() from None
                err = translate(exc, resource.name, host)
                if not _retryable(err) or attempt >= opts.max_retries:
                    raise err from None
                stats.retries += 1
                delay = _retry_after(exc) or opts.backoff * (2**attempt)
                opts.sleep(delay)
                attempt += 1
        stats.bytes_read += len(data)
        try:
            page = _decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise KubeMalformed(
                f"malformed response listing {resource.name} on {host}: {exc}",
                resource=resource.name,
            ) from None
        items = page.items or []
        stats.objects += len(items)
        yield items
        token = page.metadata.continue_
        if not token:
            return


class _Expired(Exception):
    """A continue token expired (HTTP 410): the list must restart."""


def list_items(
    api: client.ApiClient, resource: Resource, opts: ListOptions, stats: ListStats
) -> list[dict[str, Any]]:
    """All items of ``resource`` as one consistent list, restarting on 410 (bounded)."""
    for restart in range(opts.max_restarts + 1):
        items: list[dict[str, Any]] = []
        try:
            for page in list_pages(api, resource, opts, stats):
                items.extend(page)
        except _Expired:
            stats.restarts += 1
            if restart >= opts.max_restarts:
                break
            continue
        return items
    raise KubeServerError(
        f"410 Expired listing {resource.name} on {api.configuration.host}: the continue token "
        f"expired {opts.max_restarts + 1} times in a row; the list is too slow for the server's "
        "token lifetime (raise MESHBOARD_KUBE_PAGE_SIZE or check the API server's load)",
        resource=resource.name,
        status=410,
    )
