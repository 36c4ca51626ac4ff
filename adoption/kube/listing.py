"""Paged, raw-bytes listing of cluster resources.

Every list goes through `list_items`: ``limit``/``continue`` paging, raw bytes
(``_preload_content=False``) decoded with msgspec (building the client's models for 50k pods is
far too slow), a restart from the beginning when a continue token expires (410), bounded retries
with backoff on 429/5xx, and a request timeout on every call.
"""

from __future__ import annotations

import functools
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

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
    KubeTimeout,
    KubeUnreachable,
    safe_host,
)

PARTIAL_METADATA = (
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
)


class _ListMeta(msgspec.Struct):
    continue_: str = msgspec.field(name="continue", default="")
    resourceVersion: str = ""


Item = TypeVar("Item")


class _List(msgspec.Struct, Generic[Item]):
    """A list response: its items (of whatever schema) and its continue token."""

    items: list[Item] | None = None
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)


_ObjectList = _List[dict[str, Any]]  # items as plain dicts: what every decoder returns


_decoder = msgspec.json.Decoder(_ObjectList)
_any_decoder = msgspec.json.Decoder()


# --- typed pod decode ------------------------------------------------------------------------
# Only the pod fields the classifier and the capacity figures read (adoption/classify,
# adoption/capacity.py): everything else in a pod (managedFields, volumes, probes, status
# conditions, containerStatuses ...) is skipped by the parser instead of becoming dicts.
# Containers' env and args are read of the istio-proxy container only, and of its env only
# ``DISABLE_ENVOY``: the others are dropped (see `_container_dict`).
# Leaves have the types the API server's schema gives them (strings, booleans, integers). A page
# with anything else (an odd-but-parseable value such as ``hostNetwork: 1``, metadata as a
# list ...) fails the typed decode and falls back to the untyped decode (`_typed_page`,
# `decode_pods`), so such values reach the classifier's defensive accessors exactly as they are,
# and one bad object never loses or fails a page.


class _SecurityContext(msgspec.Struct):
    runAsUser: int | None = None  # noqa: N815 - Kubernetes field names


class _Resources(msgspec.Struct):
    # ``claims`` (dynamic resource allocation) and any later field: not read
    limits: dict[str, str] | None = None
    requests: dict[str, str] | None = None


_NO_RAW = msgspec.Raw(b"")


class _Container(msgspec.Struct):
    name: str | None = None
    image: str | None = None
    # Read of the istio-proxy container only (`classify.pods.detect_proxy`): kept as raw JSON
    # and decoded for that container alone; an injected proxy's env is its largest part.
    args: msgspec.Raw = _NO_RAW
    env: msgspec.Raw = _NO_RAW
    resources: _Resources | None = None
    restartPolicy: str | None = None  # noqa: N815
    securityContext: _SecurityContext | None = None  # noqa: N815


class _PodSpec(msgspec.Struct):
    containers: list[_Container] | None = None
    initContainers: list[_Container] | None = None  # noqa: N815
    hostNetwork: bool | None = None  # noqa: N815
    securityContext: _SecurityContext | None = None  # noqa: N815


class _PodStatus(msgspec.Struct):
    phase: str | None = None


class _OwnerRef(msgspec.Struct):
    kind: str | None = None
    name: str | None = None
    controller: bool | None = None


# A pod's labels, annotations and owner references are kept as raw JSON first: the pods of one
# ReplicaSet have the same bytes there (`_pod_dicts`), and only the first of them is decoded
# further. (Not so the spec and status: their JSON holds per-pod fields such as ``nodeName``.)
class _PodMeta(msgspec.Struct):
    name: str | None = None
    namespace: str | None = None
    labels: msgspec.Raw = _NO_RAW
    annotations: msgspec.Raw = _NO_RAW
    ownerReferences: msgspec.Raw = _NO_RAW  # noqa: N815
    creationTimestamp: str | None = None  # noqa: N815


class _Pod(msgspec.Struct):
    kind: str | None = None
    metadata: _PodMeta | None = None
    spec: _PodSpec | None = None
    status: _PodStatus | None = None


_pod_decoder = msgspec.json.Decoder(_List[_Pod])
_str_map_decoder = msgspec.json.Decoder(dict[str, str] | None)
_refs_decoder = msgspec.json.Decoder(list[_OwnerRef] | None)


def _part(decoder: msgspec.json.Decoder[Any], raw: msgspec.Raw) -> Any:
    """A raw part decoded (None when absent or null); raises `msgspec.ValidationError`."""
    return decoder.decode(raw) if raw else None


def _security_context(sc: _SecurityContext) -> dict[str, Any]:
    return {} if sc.runAsUser is None else {"runAsUser": sc.runAsUser}


_PROXY = "istio-proxy"
# The only variable the classifier reads of a proxy's env (`classify.pods.env_true`); Go's JSON
# encoder (the API server) writes names unescaped, so absent bytes mean no such variable.
_ENV_READ = "DISABLE_ENVOY"
_ENV_READ_BYTES = _ENV_READ.encode()


def _raw_value(raw: msgspec.Raw) -> Any:
    return None if not raw else _any_decoder.decode(raw)


def _proxy_env(raw: msgspec.Raw) -> Any:
    """The proxy's env as the classifier reads it: its ``DISABLE_ENVOY`` entries, in order."""
    if not raw:
        return None
    if _ENV_READ_BYTES not in bytes(raw):
        return []
    env = _any_decoder.decode(raw)
    if not isinstance(env, list):
        return env
    return [e for e in env if isinstance(e, dict) and e.get("name") == _ENV_READ]


def _resources_dict(r: _Resources) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _set(d, "limits", r.limits)
    _set(d, "requests", r.requests)
    return d


def _container_dict(c: _Container, resources: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if c.name is not None:
        d["name"] = c.name
    if c.image is not None:
        d["image"] = c.image
    if c.name == _PROXY:
        args, env = _raw_value(c.args), _proxy_env(c.env)
        if args is not None:
            d["args"] = args
        if env is not None:
            d["env"] = env
    if resources and c.resources is not None:
        d["resources"] = _resources_dict(c.resources)
    if c.restartPolicy is not None:
        d["restartPolicy"] = c.restartPolicy
    if c.securityContext is not None:
        d["securityContext"] = _security_context(c.securityContext)
    return d


def _pod_dict(p: _Pod) -> dict[str, Any]:
    """The plain dict the classifier reads (fields absent or null in the JSON are left out,
    which every accessor treats like the untyped decode's ``None``)."""
    out: dict[str, Any] = {}
    if p.kind is not None:
        out["kind"] = p.kind
    m = p.metadata
    if m is not None:
        md: dict[str, Any] = {}
        _set(md, "name", m.name)
        _set(md, "namespace", m.namespace)
        _set(md, "labels", _part(_str_map_decoder, m.labels))
        _set(md, "annotations", _part(_str_map_decoder, m.annotations))
        refs = _part(_refs_decoder, m.ownerReferences)
        if refs is not None:
            md["ownerReferences"] = _refs(refs)
        _set(md, "creationTimestamp", m.creationTimestamp)
        out["metadata"] = md
    if p.spec is not None:
        out["spec"] = _spec_dict(p.spec)
    st = p.status
    if st is not None:
        out["status"] = {} if st.phase is None else {"phase": st.phase}
    return out


# --- typed decode of the other lists ---------------------------------------------------------
# Same rules as the pods: only what the classifier, capacity and versions read; a page that
# breaks the schema falls back to the untyped decode. Held whole for the poll, these lists were
# most of its memory (a Deployment with its status and full template, ~6× its JSON size).


class _ObjMeta(msgspec.Struct):
    name: Any = None
    namespace: Any = None
    labels: Any = None
    annotations: Any = None
    ownerReferences: list[_OwnerRef] | None = None  # noqa: N815


class _TemplateMeta(msgspec.Struct):
    labels: Any = None
    annotations: Any = None


class _PodTemplate(msgspec.Struct):
    metadata: _TemplateMeta | None = None
    spec: _PodSpec | None = None


class _JobTemplateSpec(msgspec.Struct):
    template: _PodTemplate | None = None


class _JobTemplate(msgspec.Struct):
    metadata: _TemplateMeta | None = None
    spec: _JobTemplateSpec | None = None


class _WorkloadSpec(msgspec.Struct):
    replicas: Any = None
    template: _PodTemplate | None = None
    jobTemplate: _JobTemplate | None = None  # noqa: N815


class _Object(msgspec.Struct):
    kind: Any = None
    metadata: _ObjMeta | None = None
    spec: _WorkloadSpec | None = None


class _ServiceSpec(msgspec.Struct):
    selector: Any = None


class _Service(msgspec.Struct):
    metadata: _ObjMeta | None = None
    spec: _ServiceSpec | None = None


_object_decoder = msgspec.json.Decoder(_List[_Object])


def _set(d: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        d[key] = value


def _refs(refs: list[_OwnerRef]) -> list[dict[str, Any]]:
    """Owner references as the owner index reads them: kind, name, controller."""
    return [
        {
            k: v
            for k, v in (("kind", r.kind), ("name", r.name), ("controller", r.controller))
            if v is not None
        }
        for r in refs
    ]


def _istio_annotations(annotations: Any) -> Any:
    """The ``*istio.io/*`` annotations of an object other than a pod: the only ones the
    classifier reads there (analysis suppression, Istio settings on templates); the others
    (``kubectl.kubernetes.io/last-applied-configuration`` ...) can be most of an object."""
    if not isinstance(annotations, dict):
        return annotations
    istio = {k: v for k, v in annotations.items() if isinstance(k, str) and "istio.io" in k}
    return istio or None


def _meta_dict(m: _ObjMeta | _TemplateMeta) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if isinstance(m, _ObjMeta):
        _set(d, "name", m.name)
        _set(d, "namespace", m.namespace)
        if m.ownerReferences is not None:
            d["ownerReferences"] = _refs(m.ownerReferences)
    _set(d, "labels", m.labels)
    _set(d, "annotations", _istio_annotations(m.annotations))
    return d


def _spec_dict(sp: _PodSpec, resources: bool = True) -> dict[str, Any]:
    sd: dict[str, Any] = {}
    if sp.containers is not None:
        sd["containers"] = [_container_dict(c, resources) for c in sp.containers]
    if sp.initContainers is not None:
        sd["initContainers"] = [_container_dict(c, resources) for c in sp.initContainers]
    _set(sd, "hostNetwork", sp.hostNetwork)
    if sp.securityContext is not None:
        sd["securityContext"] = _security_context(sp.securityContext)
    return sd


def _template_dict(t: _PodTemplate, labels: Any, resources: bool) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if t.metadata is not None:
        md = d["metadata"] = _meta_dict(t.metadata)
        if labels is not None and md.get("labels") == labels:
            md["labels"] = labels  # the object's own: one dict for both
    if t.spec is not None:
        d["spec"] = _spec_dict(t.spec, resources)
    return d


def _object_dict(o: _Object) -> dict[str, Any]:
    """A workload or Namespace. Of the containers in a pod template, the resources are kept for
    istiod alone: its Deployment is the only workload whose requests anything reads (the
    capacity figures); tens of thousands of others would hold them for nothing."""
    out: dict[str, Any] = {}
    _set(out, "kind", o.kind)
    labels = None
    if o.metadata is not None:
        md = out["metadata"] = _meta_dict(o.metadata)
        labels = md.get("labels")
    resources = isinstance(labels, dict) and labels.get("app") == "istiod"
    sp = o.spec
    if sp is not None:
        sd: dict[str, Any] = {}
        _set(sd, "replicas", sp.replicas)
        if sp.template is not None:
            sd["template"] = _template_dict(sp.template, labels, resources)
        jt = sp.jobTemplate
        if jt is not None:
            jd: dict[str, Any] = {}
            if jt.metadata is not None:
                jd["metadata"] = _meta_dict(jt.metadata)
            if jt.spec is not None:
                jd["spec"] = (
                    {"template": _template_dict(jt.spec.template, labels, resources)}
                    if jt.spec.template is not None
                    else {}
                )
            sd["jobTemplate"] = jd
        out["spec"] = sd
    return out


def _service_dict(o: _Service) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if o.metadata is not None:
        out["metadata"] = _meta_dict(o.metadata)
    if o.spec is not None:
        out["spec"] = {} if o.spec.selector is None else {"selector": o.spec.selector}
    return out


def _typed_page(
    decoder: msgspec.json.Decoder[Any], convert: Callable[[Any], dict[str, Any]], data: bytes
) -> _ObjectList:
    """A list page decoded with a typed schema, its items converted to the plain dicts the
    classifier reads; the untyped decode when the page does not fit the schema (one odd object
    never loses or fails a page). Raises `msgspec.DecodeError` for a body that is not JSON."""
    try:
        page = decoder.decode(data)
    except msgspec.ValidationError:
        return _decoder.decode(data)
    items = [convert(o) for o in page.items] if page.items is not None else None
    return _ObjectList(items=items, metadata=page.metadata)


def decode_objects(data: bytes) -> _ObjectList:
    """A page of workloads (Deployments, StatefulSets, DaemonSets, CronJobs) or Namespaces:
    metadata (name, namespace, labels, Istio annotations, controller references), replicas and
    pod template (`_object_dict`); the untyped decode when the page does not fit the schema."""
    return _typed_page(_object_decoder, _object_dict, data)


_service_decoder = msgspec.json.Decoder(_List[_Service])


def decode_services(data: bytes) -> _ObjectList:
    """A page of Services: metadata and ``spec.selector`` (`classify.resilience.ServiceIndex`)."""
    return _typed_page(_service_decoder, _service_dict, data)


class _Usage(msgspec.Struct):
    cpu: Any = None
    memory: Any = None


class _MetricsContainer(msgspec.Struct):
    name: Any = None
    usage: _Usage | None = None


class _NameMeta(msgspec.Struct):
    name: Any = None
    namespace: Any = None


class _PodMetrics(msgspec.Struct):
    metadata: _NameMeta | None = None
    containers: list[_MetricsContainer] | None = None


_metrics_decoder = msgspec.json.Decoder(_List[_PodMetrics])


# The only containers whose usage is read (`capacity.UsageTotals`): the proxies and istiod's.
_USAGE_READ = frozenset({_PROXY, "discovery"})


def _metrics_dict(pm: _PodMetrics) -> dict[str, Any]:
    """A PodMetrics item with the usage of its istio-proxy/discovery containers only (tens of
    thousands of items, most of whose containers are applications')."""
    out: dict[str, Any] = {}
    if pm.metadata is not None:
        md: dict[str, Any] = {}
        _set(md, "name", pm.metadata.name)
        _set(md, "namespace", pm.metadata.namespace)
        out["metadata"] = md
    if pm.containers is not None:
        conts = []
        for c in pm.containers:
            if type(c.name) is not str or c.name not in _USAGE_READ:
                continue
            cd: dict[str, Any] = {"name": c.name}
            u = c.usage
            if u is not None:
                cd["usage"] = {
                    k: v for k, v in (("cpu", u.cpu), ("memory", u.memory)) if v is not None
                }
            conts.append(cd)
        out["containers"] = conts
    return out


def _owner_dict(o: _Object) -> dict[str, Any]:
    m = o.metadata
    if m is None:
        return {}
    md: dict[str, Any] = {}
    _set(md, "name", m.name)
    _set(md, "namespace", m.namespace)
    if m.ownerReferences is not None:
        md["ownerReferences"] = _refs(m.ownerReferences)
    if isinstance(m.annotations, dict):
        _set(md, "annotations", _istio_annotations(m.annotations))
    return {"metadata": md}


def decode_owners(data: bytes) -> _ObjectList:
    """A page of metadata-only ReplicaSets or Jobs as the owner index reads them: name,
    namespace, owner references and Istio annotations (analysis suppression); tens of thousands
    of them on a large cluster."""
    return _typed_page(_object_decoder, _owner_dict, data)


def decode_podmetrics(data: bytes) -> _ObjectList:
    """A page of metrics.k8s.io PodMetrics: names and per-container usage (`capacity`)."""
    return _typed_page(_metrics_decoder, _metrics_dict, data)


def _same_content(p: _Pod, q: _Pod) -> bool:
    """Whether two pods are alike in all but their name and creation time: the same JSON
    for their labels, annotations and owner references, equal typed specs and statuses (every
    typed leaf has the one type the API gives it, so ``==`` is equality of content: ``1 ==
    True`` cannot arise)."""
    m, n = p.metadata, q.metadata
    return (
        m is not None
        and n is not None
        and m.ownerReferences == n.ownerReferences
        and m.namespace == n.namespace
        and m.labels == n.labels
        and m.annotations == n.annotations
        and p.spec == q.spec
        and p.status == q.status
        and p.kind == q.kind
    )


_OWN_FIELDS = ("name", "creationTimestamp")


def _pod_dicts(pods: list[_Pod]) -> list[dict[str, Any]]:
    """The pods of a page as plain dicts (`_pod_dict`), sharing content between neighbours.

    The API server lists pods by namespace and name, so the pods of one ReplicaSet come one
    after another, and they are alike in every field decoded but their name and creation time.
    Such a pod is given the dicts of the first pod of its run (kind, labels, annotations, owner
    references, spec, status — the very same objects) and a metadata dict of its own: memory
    for one pod instead of many, and consumers may take ``is`` on those objects as proof of equal
    content (`classify.Classifier.add_pods`, `capacity.PodTotals.add`)."""
    out: list[dict[str, Any]] = []
    first: _Pod | None = None
    first_dict: dict[str, Any] = {}
    for p in pods:
        if first is not None and _same_content(p, first):
            m = p.metadata
            assert m is not None  # _same_content
            md = dict(first_dict["metadata"])
            for key, value in zip(_OWN_FIELDS, (m.name, m.creationTimestamp), strict=True):
                if value is None:
                    md.pop(key, None)
                else:
                    md[key] = value
            d = dict(first_dict)
            d["metadata"] = md
            out.append(d)
        else:
            first, first_dict = p, _pod_dict(p)
            out.append(first_dict)
    return out


def decode_pods(data: bytes) -> _ObjectList:
    """A pod list page: typed decode of the classifier's fields, neighbours alike sharing their
    content (`_pod_dicts`); the untyped decode when the page does not fit the schema (raises
    `msgspec.DecodeError` for a body that is not JSON)."""
    try:
        page = _pod_decoder.decode(data)
        items = _pod_dicts(page.items) if page.items is not None else None
    except msgspec.ValidationError:
        return _decoder.decode(data)
    return _ObjectList(items=items, metadata=page.metadata)


T = TypeVar("T")

# Pages of a list requested ahead of the one being decoded (`list_pages`): with one, page N+1
# is fetched while page N is decoded, and N is decoded while the caller works on N-1.
READ_AHEAD = 1


@dataclass
class ListOptions:
    page_size: int = 500
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_restarts: int = 3  # restarts of a whole list after a 410 Expired continue token
    max_retries: int = 4  # retries of one request on 429 / 5xx / connection errors / bad bodies
    max_timeout_retries: int = 1  # of which at most this many after a timeout
    max_malformed_retries: int = 1  # and at most this many after an undecodable body
    backoff: float = 0.5  # first retry delay, doubled each time (Retry-After wins when given)
    # `clock()` value after which no request starts (the poll's time budget); None = no budget.
    deadline: float | None = None
    sleep: Callable[[float], None] = time.sleep  # injectable: tests record delays
    clock: Callable[[], float] = time.monotonic

    def timeout_for(self, what: str, host: str) -> tuple[float, float]:
        """(connect, read) timeouts for the next request, capped by the poll's time budget."""
        if self.deadline is None:
            return (self.connect_timeout, self.read_timeout)
        left = self.deadline - self.clock()
        if left <= 0:
            raise KubeTimeout(
                f"timeout listing {what} on {host}: the poll ran out of its time budget "
                "(MESHBOARD_POLL_SOFT_TIME_LIMIT) before this request",
                resource=what,
            )
        return (min(self.connect_timeout, left), min(self.read_timeout, left))


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
    # decode only the fields the classifier reads: "pods" (`decode_pods`), "objects"
    # (`decode_objects`), "services" (`decode_services`), "owners" (`decode_owners`),
    # "podmetrics" (`decode_podmetrics`); None: every field
    typed: str | None = None

    def decoder(self) -> Callable[[bytes], _ObjectList]:
        return {
            "pods": decode_pods,
            "objects": decode_objects,
            "services": decode_services,
            "owners": decode_owners,
            "podmetrics": decode_podmetrics,
        }.get(self.typed or "", _decoder.decode)


def core(method: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: getattr(client.CoreV1Api(api), method)


def apps(method: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: getattr(client.AppsV1Api(api), method)


def batch(method: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: getattr(client.BatchV1Api(api), method)


def core_in_namespace(method: str, namespace: str) -> Callable[[client.ApiClient], Fetch]:
    return lambda api: functools.partial(getattr(client.CoreV1Api(api), method), namespace)


def namespaced_api(
    api_class: str, method: str, namespace: str
) -> Callable[[client.ApiClient], Fetch]:
    """A namespaced list method of any client API class (e.g. AutoscalingV2Api)."""
    return lambda api: functools.partial(
        getattr(getattr(client, api_class)(api), method), namespace
    )


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


def _describe_transport_error(exc: BaseException) -> tuple[str, bool]:
    """A short, credential-free description of a transport error, and whether it is a timeout."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: test it first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        inner = exc.__cause__ or exc.__context__
        if isinstance(inner, ConnectionRefusedError):
            return "connection refused", False
        return f"cannot connect ({type(inner or exc).__name__})", False
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        return "the host name does not resolve", False
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "timed out connecting", True
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "timed out waiting for the response", True
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS handshake failed (check the CA bundle / server certificate)", False
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        args = [a for a in exc.args if isinstance(a, BaseException)]
        inner = args[0] if args else (exc.__cause__ or exc.__context__)
        if isinstance(inner, http.client.IncompleteRead | urllib3.exceptions.IncompleteRead):
            return "the response body was truncated (connection closed mid-response)", False
        if isinstance(inner, ConnectionResetError):
            return "the connection was reset by the server", False
        if isinstance(inner, http.client.RemoteDisconnected):
            return "the server closed the connection without a response", False
        if inner is not None:
            return f"the connection broke ({type(inner).__name__})", False
        return "the connection broke", False
    if isinstance(exc, urllib3.exceptions.IncompleteRead | http.client.IncompleteRead):
        return "the response body was truncated (connection closed mid-response)", False
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset by the server", False
    reason = type(exc).__name__
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        reason = f"{reason} ({type(inner).__name__})"
    return reason, False


def translate(
    exc: BaseException,
    what: str,
    host: str,
    opts: ListOptions | None = None,
    timeout: tuple[float, float] | None = None,
) -> KubeError:
    """Turn a client/transport exception into a `KubeError` with an actionable message.

    Only status codes, reasons and exception *type* names go into messages: never request
    headers, URLs with credentials or response bodies.
    """
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
            first_line = str(exc.reason or "").splitlines()[0:1]
            return KubeUnreachable(
                f"cannot reach {host} listing {what}: {first_line[0] if first_line else 'error'}",
                resource=what,
            )
        reason = str(exc.reason or "").splitlines()[0] if exc.reason else ""
        return KubeServerError(
            f"HTTP {status} {reason} listing {what} on {host}".replace("  ", " "),
            resource=what,
            status=status,
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | http.client.HTTPException):
        description, timed_out = _describe_transport_error(exc)
        if timed_out:
            limit = ""
            if opts is not None:
                connecting = "connecting" in description
                used = timeout or (opts.connect_timeout, opts.read_timeout)
                configured = opts.connect_timeout if connecting else opts.read_timeout
                seconds = used[0] if connecting else used[1]
                if seconds < configured:
                    source = "capped by the poll's time budget, MESHBOARD_POLL_SOFT_TIME_LIMIT"
                elif connecting:
                    source = "MESHBOARD_KUBE_CONNECT_TIMEOUT"
                else:
                    source = "MESHBOARD_KUBE_READ_TIMEOUT"
                limit = f" after {round(seconds, 1):g} s ({source})"
            return KubeTimeout(
                f"timeout listing {what} on {host}: {description}{limit}", resource=what
            )
        if description.startswith(("the response", "the connection", "the server closed")):
            return KubeUnreachable(
                f"connection to {host} broke listing {what}: {description}", resource=what
            )
        return KubeUnreachable(f"cannot reach {host} listing {what}: {description}", resource=what)
    return KubeError(f"unexpected {type(exc).__name__} listing {what} on {host}", resource=what)


def _retryable(exc: KubeError) -> bool:
    if isinstance(exc, KubeUnreachable | KubeMalformed):
        return True
    return isinstance(exc, KubeServerError) and (exc.status in (429, 500, 502, 503, 504))


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(max(float(value), 0.0), 30.0) if value is not None else None
    except (TypeError, ValueError):
        return None


_COUNTING = threading.Lock()
TRANSPORT_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError, http.client.HTTPException)


def call_with_retries(
    call: Callable[[tuple[float, float]], T],
    what: str,
    host: str,
    opts: ListOptions,
    stats: ListStats,
) -> T:
    """Run ``call(timeout)`` (one HTTP request, body read included) with bounded retries.

    429/5xx, connection errors, truncated or malformed bodies are retried with exponential
    backoff (a Retry-After header wins); timeouts and undecodable bodies only once by default,
    so a hung or broken server costs a bounded time; nothing is retried past the poll's
    ``deadline``. A 410 is
    passed up as `_Expired` for the caller to restart its list.
    """
    attempt = 0
    timeouts = malformed = 0
    while True:
        timeout = opts.timeout_for(what, host)
        try:
            with _COUNTING:  # read-ahead requests run in two threads
                stats.requests += 1
            return call(timeout)
        except TRANSPORT_ERRORS + (KubeMalformed,) as exc:
            if isinstance(exc, ApiException) and exc.status == 410:
                raise _Expired() from None
            err = exc if isinstance(exc, KubeError) else translate(exc, what, host, opts, timeout)
            timeouts += isinstance(err, KubeTimeout)
            malformed += isinstance(err, KubeMalformed)
            give_up = (
                not _retryable(err)
                or attempt >= opts.max_retries
                or timeouts > opts.max_timeout_retries
                or malformed > opts.max_malformed_retries
            )
            delay = _retry_after(exc) or opts.backoff * (2**attempt)
            if not give_up and opts.deadline is not None:
                give_up = opts.clock() + delay >= opts.deadline
            if give_up:
                if attempt and _retryable(err):
                    err.message += f" (gave up after {attempt + 1} attempts)"
                raise err from None
            with _COUNTING:
                stats.retries += 1
            opts.sleep(delay)
            attempt += 1


_ITEMS = b'"items":'
_HEAD_LIMIT = 64 * 1024


class _Head(msgspec.Struct):
    metadata: _ListMeta | None = None


_head_decoder = msgspec.json.Decoder(_Head)


def peek_continue(data: bytes) -> str | None:
    """A list body's continue token read off its head, without decoding its items: the API
    server writes a list's metadata before its items. None when the head does not tell (the
    caller then waits for the full decode); "" on the last page."""
    end = data.find(_ITEMS, 0, _HEAD_LIMIT)
    if end <= 0:
        return None
    try:
        meta = _head_decoder.decode(data[:end] + b'"items":null}').metadata
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return meta.continue_ if meta is not None else None


def _fetch_page(
    fetch: Fetch,
    kwargs: dict[str, Any],
    what: str,
    host: str,
    timeout: tuple[float, float],
    decode: Callable[[bytes], _ObjectList] = _decoder.decode,
    peek: Callable[[bytes], None] | None = None,
) -> tuple[_ObjectList, int]:
    """One page: request, read the whole body (inside the retry), hand it to ``peek`` (which
    may request the next page while this one decodes), decode it."""
    resp = fetch(**kwargs, _request_timeout=timeout)
    try:
        data = resp.data  # the body is read here: truncation and read timeouts surface here
    finally:
        resp.release_conn()
    if peek is not None:
        peek(data)
    try:
        return decode(data), len(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        detail = (
            f"invalid UTF-8 at byte {exc.start}"
            if isinstance(exc, UnicodeDecodeError)
            else str(exc)[:200]
        )
        raise KubeMalformed(
            f"malformed response listing {what} on {host}: {detail}", resource=what
        ) from None


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
    3. On 429/5xx/connection errors/truncated or malformed bodies, retry the same page with
       exponential backoff (`call_with_retries`).
    4. Read ahead: the next page is requested with the token at the head of this page's body
       (`peek_continue`) before this one is decoded; the token of the decoded page decides, and
       a page requested from a head that said otherwise is dropped unread.
    A restart makes callers see items twice, so they must treat a restart as a reset: callers
    that need it use `list_items`, which buffers per attempt.
    """
    host = safe_host(api.configuration.host)
    fetch = resource.fetch(api)
    headers = {"Accept": PARTIAL_METADATA} if resource.metadata_only else None
    decode = resource.decoder()
    # Requested pages not yet consumed, by continue token: the next page is requested as soon as
    # this one's body is read (`peek_continue`), so the API server renders and sends it while
    # this one is decoded and the caller works on it; at most `READ_AHEAD` pages ahead.
    ahead: dict[str, Future[tuple[_ObjectList, int]]] = {}
    lock = threading.Lock()
    executor = ThreadPoolExecutor(max_workers=READ_AHEAD + 1, thread_name_prefix="kube-list")
    open_ = True

    def request_next(data: bytes) -> None:
        token = peek_continue(data)
        if not token:
            return
        with lock:
            if open_ and token not in ahead and len(ahead) < READ_AHEAD:
                ahead[token] = executor.submit(get, token)

    def get(token: str) -> tuple[_ObjectList, int]:
        kwargs: dict[str, Any] = {"limit": opts.page_size, "_preload_content": False}
        if token:
            kwargs["_continue"] = token
        if headers:
            kwargs["_headers"] = headers
        return call_with_retries(
            functools.partial(
                _fetch_page, fetch, kwargs, resource.name, host, decode=decode, peek=request_next
            ),
            resource.name,
            host,
            opts,
            stats,
        )

    try:
        current = executor.submit(get, "")
        while True:
            page, size = current.result()
            token = page.metadata.continue_
            if token:
                with lock:
                    following = ahead.pop(token, None)
                    if following is None:
                        # the head did not tell, or told another token than the whole page
                        # (a body retried after a malformed one): nothing requested is right
                        for stale in ahead.values():
                            stale.cancel()
                        ahead.clear()
                        following = executor.submit(get, token)
                current = following
            stats.bytes_read += size
            items = page.items or []
            stats.objects += len(items)
            del page
            yield items
            if not token:
                return
    finally:
        with lock:
            open_ = False
            for pending in ahead.values():
                pending.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


class _Expired(Exception):
    """A continue token expired (HTTP 410): the list must restart."""


def list_items(
    api: client.ApiClient, resource: Resource, opts: ListOptions, stats: ListStats
) -> list[dict[str, Any]]:
    """All items of ``resource`` as one consistent list, restarting on 410 (bounded)."""
    items: list[dict[str, Any]] = []
    stream_items(api, resource, opts, stats, items.extend, items.clear)
    return items


def stream_items(
    api: client.ApiClient,
    resource: Resource,
    opts: ListOptions,
    stats: ListStats,
    consume: Callable[[list[dict[str, Any]]], None],
    reset: Callable[[], None],
) -> None:
    """Feed the items of ``resource`` to ``consume`` page by page, never holding more than one
    page. A 410 restarts the list from the beginning (bounded): ``reset()`` is called first, so
    the consumer discards what it folded in from the abandoned attempt."""
    for restart in range(opts.max_restarts + 1):
        if restart:
            reset()
        try:
            for page in list_pages(api, resource, opts, stats):
                consume(page)
        except _Expired:
            stats.restarts += 1
            if restart >= opts.max_restarts:
                break
            continue
        return
    reset()
    raise KubeServerError(
        f"410 Expired listing {resource.name} on {safe_host(api.configuration.host)}: the continue "
        f"token expired {opts.max_restarts + 1} times in a row; the list is too slow for the "
        "server's token lifetime (raise MESHBOARD_KUBE_PAGE_SIZE or check the API server's load)",
        resource=resource.name,
        status=410,
    )
