"""One poll of one cluster: kube → classify → store.

`snapshot_cluster` is the plain function the Celery task calls (and tests call directly).
Nothing is written for a poll until every resource has been read and classified; then the
observations and the ``ok`` status land in one transaction. A failed poll records its error on
its snapshot row and nothing else, so the previous good snapshot stays the current one.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import capacity, kube, store
from .classify import (
    ClassifyOptions,
    ClusterObjects,
    ClusterResult,
    WorkloadRecord,
)
from .classify.cluster import Classifier, gc_paused
from .classify.workloads import OwnerTable
from .models import Cluster, Snapshot, SnapshotStatus, Waiver
from .org import resolver_for
from .store import NamespaceRow, WorkloadRow

log = logging.getLogger(__name__)

ISTIO_PLURALS = {
    "networking.istio.io": (
        "virtualservices",
        "destinationrules",
        "gateways",
        "serviceentries",
        "sidecars",
    ),
    "security.istio.io": ("peerauthentications",),
}


# What a poll lists: (key in ClusterObjects, resource, required). A required resource that cannot
# be read fails the poll; an optional one that is forbidden (403) or absent (404) becomes a gap
# recorded on the snapshot, and the rest of the snapshot stands.
RESOURCES: tuple[tuple[str, kube.Resource, bool], ...] = (
    (
        "namespaces",
        kube.Resource("namespaces", kube.core("list_namespace"), typed="objects"),
        True,
    ),
    (
        "pods",
        kube.Resource("pods", kube.core("list_pod_for_all_namespaces"), typed="pods"),
        True,
    ),
    (
        "replicasets",
        kube.Resource(
            "replicasets",
            kube.apps("list_replica_set_for_all_namespaces"),
            metadata_only=True,
            typed="owners",
        ),
        False,
    ),
    (
        "jobs",
        kube.Resource(
            "jobs", kube.batch("list_job_for_all_namespaces"), metadata_only=True, typed="owners"
        ),
        False,
    ),
    (
        "deployments",
        kube.Resource(
            "deployments", kube.apps("list_deployment_for_all_namespaces"), typed="objects"
        ),
        False,
    ),
    (
        "statefulsets",
        kube.Resource(
            "statefulsets", kube.apps("list_stateful_set_for_all_namespaces"), typed="objects"
        ),
        False,
    ),
    (
        "daemonsets",
        kube.Resource(
            "daemonsets", kube.apps("list_daemon_set_for_all_namespaces"), typed="objects"
        ),
        False,
    ),
    (
        "cronjobs",
        kube.Resource("cronjobs", kube.batch("list_cron_job_for_all_namespaces"), typed="objects"),
        False,
    ),
    (
        "services",
        kube.Resource("services", kube.core("list_service_for_all_namespaces"), typed="services"),
        False,
    ),
    (
        "configmaps",
        kube.Resource(
            "configmaps", kube.core_in_namespace("list_namespaced_config_map", "istio-system")
        ),
        False,
    ),
    (
        "webhooks",
        kube.Resource(
            "mutatingwebhookconfigurations", kube.admission("list_mutating_webhook_configuration")
        ),
        False,
    ),
)
REQUIRED = tuple(r for _, r, required in RESOURCES if required)
# Indexed page by page into `OwnerTable`s instead of kept (tens of thousands on a large cluster).
OWNERS = ("replicasets", "jobs")
# Read for the capacity figures only (istiod's autoscaler; proxy usage when metrics-server runs).
HPAS = kube.Resource(
    "horizontalpodautoscalers",
    kube.namespaced_api(
        "AutoscalingV2Api", "list_namespaced_horizontal_pod_autoscaler", "istio-system"
    ),
)
METRICS_GROUP = "metrics.k8s.io"


@dataclass
class ClusterRead:
    """Everything read from one cluster in one poll."""

    discovery: kube.Discovery
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    istio: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    stats: kube.ListStats = field(default_factory=kube.ListStats)
    hpas: list[dict[str, Any]] = field(default_factory=list)
    # PodMetrics, streamed into their totals; None: the cluster serves no metrics API
    usage: capacity.UsageTotals | None = None
    # Pods streamed (`read_cluster(..., pods=...)`): their capacity totals; objects["pods"] is [].
    pod_totals: capacity.PodTotals | None = None
    capacity_summary: dict[str, Any] | None = None  # set by `release`
    # istiod's Deployments, kept when the object lists are let go of (`PodSink`)
    istiod: list[dict[str, Any]] | None = None
    # ReplicaSets and Jobs, indexed as they are read; objects[...] holds those without an owner
    owners: dict[str, OwnerTable] = field(default_factory=dict)

    def release(self) -> None:
        """Summarize the capacity and let go of every object read (once classified, they are
        most of a poll's memory)."""
        self.capacity_summary = self.capacity()
        self.objects = {key: [] for key in self.objects}
        self.istio = {key: [] for key in self.istio}
        self.hpas, self.usage = [], None

    def capacity(self) -> dict[str, Any]:
        if self.capacity_summary is not None:
            return self.capacity_summary
        summary = capacity.summarize(
            self.objects.get("pods", []),
            self.istiod_deployments(),
            self.hpas,
            pod_totals=self.pod_totals,
            usage=self.usage,
        )
        return summary.as_json()

    def istiod_deployments(self) -> list[dict[str, Any]]:
        if self.istiod is not None:
            return self.istiod
        return [d for d in self.objects.get("deployments", []) if _is_istiod(d)]

    def cluster_objects(self) -> ClusterObjects:
        """The objects read (ReplicaSets and Jobs: only those without an owner, see
        `classifier`)."""
        return ClusterObjects(
            **{key: self.objects.get(key, []) for key, _, _ in RESOURCES},
            istio=self.istio,
            istiod=self.istiod_deployments(),
        )

    def classifier(self, opts: ClassifyOptions, *, keep_pods: bool = True) -> Classifier:
        """A classifier of these objects, with the owner tables of the ReplicaSets and Jobs."""
        tables = (
            self.owners.get("replicasets") or OwnerTable(),
            self.owners.get("jobs") or OwnerTable(),
        )
        return Classifier(self.cluster_objects(), opts, keep_pods=keep_pods, owner_tables=tables)


def _is_istiod(obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get("app") == "istiod"


def connection_for(cluster: Cluster) -> kube.ClusterConnection:
    return kube.ClusterConnection(
        method=cluster.auth_method,
        kubeconfig_path=cluster.kubeconfig_path,
        context=cluster.context,
        api_url=cluster.api_url,
        token_file=cluster.token_file,
        ca_file=cluster.ca_file,
        allowed_dirs=tuple(settings.MESHBOARD_CREDENTIALS_DIRS),
    )


# A poll must end (ok or failed, recorded) before Celery's soft time limit interrupts it.
BUDGET_MARGIN_SECONDS = 10
# A poll whose worker died this many times (e.g. OOM-killed on a huge cluster) is not re-run
# again: with acks_late + reject_on_worker_lost it would otherwise be redelivered forever.
MAX_ATTEMPTS = 3


def poll_budget() -> float:
    """Seconds a poll may spend on cluster requests."""
    soft = float(settings.MESHBOARD_POLL_SOFT_TIME_LIMIT)
    return max(soft - BUDGET_MARGIN_SECONDS, soft / 2)


def list_options() -> kube.ListOptions:
    return kube.ListOptions(
        page_size=settings.MESHBOARD_KUBE_PAGE_SIZE,
        connect_timeout=settings.MESHBOARD_KUBE_CONNECT_TIMEOUT,
        read_timeout=settings.MESHBOARD_KUBE_READ_TIMEOUT,
    )


def _list_optional(
    api: Any, resource: kube.Resource, opts: kube.ListOptions, stats: kube.ListStats
) -> list[dict[str, Any]]:
    try:
        return kube.list_items(api, resource, opts, stats)
    except (kube.KubeForbidden, kube.KubeNotFound) as exc:
        _record_gap(stats, resource, exc)
        return []


def _record_gap(stats: kube.ListStats, resource: kube.Resource, exc: kube.KubeError) -> None:
    """An optional resource the poll could not read (403/404): the snapshot stands without it."""
    stats.gaps.append({"resource": resource.name, "kind": exc.kind, "error": exc.message})


class PodSink:
    """Where a streamed pod list goes: a classifier and the capacity totals, page by page."""

    def __init__(self, read: ClusterRead, opts: ClassifyOptions) -> None:
        read.istiod = read.istiod_deployments()
        self.classifier = read.classifier(opts, keep_pods=False)
        # Everything but the pods now lives in the classifier's indexes (tens of thousands of
        # ReplicaSets, workloads and Services on a large cluster): let the lists go before the
        # pods come in.
        read.objects = {key: [] for key in read.objects}
        read.istio = {key: [] for key in read.istio}
        read.owners = {}
        trim_heap()  # what the lists held goes back to the system, not to the pods' high-water mark
        read.pod_totals = self.totals = capacity.PodTotals()
        self.read = read

    def add(self, page: list[dict[str, Any]]) -> None:
        self.classifier.add_pods(page)
        self.totals.add(page)

    def reset(self) -> None:
        """The pod list restarted (410): forget every pod folded in so far."""
        self.classifier.reset_pods()
        self.read.pod_totals = self.totals = capacity.PodTotals()


def read_cluster(
    cluster: Cluster,
    opts: kube.ListOptions | None = None,
    *,
    pods: Callable[[ClusterRead], PodSink] | None = None,
) -> ClusterRead:
    """List everything a snapshot needs. Raises `kube.KubeError` when the poll cannot stand.

    With ``pods`` (a factory called once everything the classifier needs is read) the pod list
    comes after the Istio resources and is streamed page by page into the sink it returns;
    ``objects["pods"]`` stays empty."""
    bound_heap()
    opts = opts or list_options()
    if opts.deadline is None:
        opts = dataclasses.replace(opts, deadline=opts.clock() + poll_budget())
    api = kube.build_api_client(connection_for(cluster))
    try:
        stats = kube.ListStats()
        read = ClusterRead(discovery=kube.discover(api, opts, stats), stats=stats)
        pod_resource = None
        for key, resource, required in RESOURCES:
            if key == "pods" and pods is not None:
                pod_resource = resource
                read.objects[key] = []
            elif key in OWNERS:
                table = read.owners[key] = OwnerTable()
                try:
                    kube.stream_items(api, resource, opts, read.stats, table.add, table.reset)
                except (kube.KubeForbidden, kube.KubeNotFound) as exc:
                    _record_gap(read.stats, resource, exc)
                    table.reset()
                read.objects[key] = table.standalone
            elif required:
                read.objects[key] = kube.list_items(api, resource, opts, read.stats)
            else:
                read.objects[key] = _list_optional(api, resource, opts, read.stats)
        for group, plurals in ISTIO_PLURALS.items():
            version = read.discovery.groups.get(group)
            if version is None:
                continue  # a cluster without Istio CRDs is valid: zero Istio resources
            for plural in plurals:
                resource = kube.Resource(f"{plural}.{group}", kube.custom(group, version, plural))
                read.istio[plural] = _list_optional(api, resource, opts, read.stats)
        if pods is not None and pod_resource is not None:
            sink = pods(read)
            # Decoding and classifying allocate millions of small acyclic objects: with the
            # cyclic GC running, every collection would rescan the aggregates (reference
            # counting frees each page as soon as it is folded in).
            with gc_paused():
                kube.stream_items(api, pod_resource, opts, read.stats, sink.add, sink.reset)
        read.hpas = _list_optional(api, HPAS, opts, read.stats)
        metrics_version = read.discovery.groups.get(METRICS_GROUP)
        if metrics_version is not None:
            podmetrics = kube.Resource(
                f"pods.{METRICS_GROUP}",
                kube.custom(METRICS_GROUP, metrics_version, "pods"),
                typed="podmetrics",
            )
            usage = capacity.UsageTotals()
            try:
                kube.stream_items(api, podmetrics, opts, read.stats, usage.add, usage.reset)
                read.usage = usage
            except (kube.KubeForbidden, kube.KubeNotFound) as exc:
                _record_gap(read.stats, podmetrics, exc)
        return read
    finally:
        api.close()


# Kubernetes caps names at 253 characters (namespaces at 63); the columns follow that.
MAX_NAME = 253


def _scrub(value: Any) -> Any:
    """Strip NUL characters, which PostgreSQL text and jsonb cannot hold."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


_json = msgspec.json.Encoder()
_NUL_JSON = b"\\u0000"  # how JSON writes a NUL character (a literal "\\u0000" matches too)


def _storable(
    workloads: list[WorkloadRow], namespaces: list[NamespaceRow], stats: kube.ListStats
) -> tuple[list[WorkloadRow], list[NamespaceRow]]:
    """Rows the database can hold: objects with impossible names (longer than Kubernetes
    allows) are skipped and recorded as a gap; NUL characters are stripped."""
    too_long = {ns.namespace for ns in namespaces if len(ns.namespace) > MAX_NAME}
    kept_ns = [ns for ns in namespaces if ns.namespace not in too_long]
    kept_wl = [
        w
        for w in workloads
        if w.namespace not in too_long and len(w.namespace) <= MAX_NAME and len(w.name) <= MAX_NAME
    ]
    skipped = len(namespaces) - len(kept_ns) + len(workloads) - len(kept_wl)
    if skipped:
        stats.gaps.append(
            {
                "resource": "objects",
                "kind": "invalid",
                "error": f"skipped {skipped} object(s) with names over {MAX_NAME} characters",
            }
        )
    for row in (*kept_ns, *kept_wl):
        if _NUL_JSON not in _json.encode(row):  # one C-level pass finds the rare NUL
            continue
        for name, value in vars(row).items():
            scrubbed = _scrub(value)
            if scrubbed is not value:
                setattr(row, name, scrubbed)
    return kept_wl, kept_ns


def classify_options(at: datetime) -> ClassifyOptions:
    return ClassifyOptions(
        extra_system_namespaces=frozenset(settings.MESHBOARD_EXTRA_SYSTEM_NAMESPACES), now=at
    )


def read_and_classify(
    cluster: Cluster, at: datetime, opts: kube.ListOptions | None = None
) -> tuple[ClusterRead, ClusterResult, list[WorkloadRow], list[NamespaceRow]]:
    """One poll's read and classification with the pods streamed: every other resource is read
    first, then the pod list page by page into an incremental classifier, so no more than one
    page of pods is ever alive (memory bounded by the workload/namespace aggregates). The read
    comes back released (`ClusterRead.release`): capacity summarized, objects dropped."""
    sinks: list[PodSink] = []

    def sink(read: ClusterRead) -> PodSink:
        sinks.append(PodSink(read, classify_options(at)))
        return sinks[0]

    read = read_cluster(cluster, opts, pods=sink)
    result = sinks[0].classifier.finish()
    sinks.clear()  # the classifier's indexes
    read.release()
    return read, *classify_read(cluster, read, at, result=result, consume=True)


def classify_read(
    cluster: Cluster,
    read: ClusterRead,
    at: datetime,
    *,
    result: ClusterResult | None = None,
    consume: bool = False,
) -> tuple[ClusterResult, list[WorkloadRow], list[NamespaceRow]]:
    """Classify one read (unless its pods were streamed into ``result``) and resolve
    tribes/squads into rows ready to store. With ``consume`` each workload record is let go of
    as its row is made (``result.workloads`` comes back empty): tens of thousands of records
    and rows are never alive together."""
    if result is None:
        with gc_paused():
            classifier = read.classifier(classify_options(at))
            classifier.add_pods(read.objects.get("pods", []))
            result = classifier.finish()
    resolver = resolver_for(cluster.name)
    waivers: dict[str, list[Waiver]] = {}
    for waiver in Waiver.objects.active_on(at.date()).filter(
        Q(cluster=cluster) | Q(cluster__isnull=True)
    ):
        waivers.setdefault(waiver.namespace, []).append(waiver)
    namespaces = [
        NamespaceRow(
            namespace=ns.name,
            tribe=resolver.tribe(ns.name, ns.labels),
            injection=ns.klass,
            revision=ns.revision_resolved or ns.revision or "",
            system=ns.system,
            pods_total=ns.pods_total,
            pods_meshed=ns.pods_meshed,
            workloads_total=ns.workloads_total,
            workloads_meshed=ns.workloads_meshed,
            conflicts=list(ns.conflicts),
            labels=dict(ns.labels),
        )
        for ns in result.namespaces
    ]
    ns_labels = {ns.name: ns.labels for ns in result.namespaces}
    records: Iterable[WorkloadRecord] = result.workloads
    if consume:
        records, result.workloads = _drain(result.workloads), []
    workloads: list[WorkloadRow] = []
    for w in records:
        workloads.append(
            WorkloadRow(
                **_from_record(w, copy=not consume),
                tribe=resolver.tribe(w.namespace, ns_labels.get(w.namespace)),
                squad=resolver.squad(w.namespace, w.name, w.labels),
                squad_label=str(w.labels.get(settings.CLUSTER_LABEL_SQUAD, ""))[:100],
                waived=any(
                    x.covers(cluster.pk, w.namespace, w.kind, w.name)
                    for x in waivers.get(w.namespace, ())
                ),
            )
        )
    return result, *_storable(workloads, namespaces, read.stats)


def _drain(items: list[WorkloadRecord]) -> Iterator[WorkloadRecord]:
    """The items in order, each let go of by the list as it is handed out."""
    items.reverse()
    while items:
        yield items.pop()


# WorkloadRow = the classifier's WorkloadRecord (same field names) + what the poll resolves.
_RESOLVED = frozenset({"tribe", "squad", "squad_label", "waived"})
_COPIED = tuple(f.name for f in dataclasses.fields(WorkloadRow) if f.name not in _RESOLVED)


def _from_record(w: WorkloadRecord, copy: bool = True) -> dict[str, Any]:
    """The classifier's fields of a workload, as stored: optional strings become "" and lists
    are copied (unless the record is let go of: ``copy=False``)."""
    values: dict[str, Any] = {}
    for name in _COPIED:
        value = getattr(w, name)
        if copy and isinstance(value, list):
            value = list(value)
        elif value is None and name in (
            "revision_requested",
            "revision_used",
            "control_plane_version",
        ):
            value = ""
        values[name] = value
    return values


_SECRETS = (
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)\b((?:token|password|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{4,}"),
)


def safe_error(message: str) -> str:
    """An error text fit to store and show: one line of at most 4000 chars, secrets masked."""
    text = " ".join(message.split())
    for pattern in _SECRETS:
        text = pattern.sub(r"\1[redacted]", text)
    return text[:4000]


def _claim(cluster: Cluster, started_at: datetime) -> tuple[Snapshot, bool]:
    """Create or reuse the snapshot row for this scheduled poll.

    Returns the row and whether to poll: not when it already succeeded (a redelivery after the
    work was stored) nor when its worker was lost ``MAX_ATTEMPTS`` times (recorded as failed).
    """
    snap, _ = Snapshot.objects.get_or_create(cluster=cluster, started_at=started_at)
    if snap.status == SnapshotStatus.OK:
        return snap, False
    if snap.status == SnapshotStatus.RUNNING and snap.attempts >= MAX_ATTEMPTS:
        Snapshot.objects.filter(pk=snap.pk).update(
            status=SnapshotStatus.FAILED,
            finished_at=timezone.now(),
            error=(
                f"poll of {cluster.name} abandoned: its worker was lost {snap.attempts} times "
                "in a row (killed, e.g. out of memory or the hard time limit); not retried again"
            ),
        )
        snap.refresh_from_db()
        return snap, False
    Snapshot.objects.filter(pk=snap.pk).update(
        status=SnapshotStatus.RUNNING, error="", attempts=snap.attempts + 1
    )
    return snap, True


def snapshot_cluster(
    cluster: Cluster,
    *,
    started_at: datetime | None = None,
    opts: kube.ListOptions | None = None,
) -> Snapshot:
    """Poll ``cluster`` once and store the result; returns the (ok or failed) snapshot.

    1. Claim the snapshot row keyed by (cluster, started_at): a redelivered task finds it.
    2. Read and classify everything in memory; no observation is written yet.
    3. In one transaction: insert the observations and flip the snapshot to ``ok``.
    4. On any error: record it on the snapshot (status ``failed``), write nothing else.
    """
    started_at = started_at or timezone.now()
    snap, proceed = _claim(cluster, started_at)
    if not proceed:
        log.info("poll of %s at %s already %s; skipping", cluster.name, started_at, snap.status)
        return snap
    t0 = time.monotonic()
    try:
        # A poll allocates millions of small objects that live until it ends; with the cyclic
        # GC running, each full collection would rescan all of them (seconds per poll on a
        # 50k-pod cluster). Reference counting frees them; the collector resumes afterwards.
        with gc_paused():
            read, result, workloads, namespaces = read_and_classify(cluster, started_at, opts)
        counted = [ns for ns in namespaces if not ns.system]
        with gc_paused(), transaction.atomic():
            store.write_snapshot(snap, workloads, namespaces)
            Snapshot.objects.filter(pk=snap.pk).update(
                status=SnapshotStatus.OK,
                finished_at=timezone.now(),
                duration_ms=int((time.monotonic() - t0) * 1000),
                bytes_read=read.stats.bytes_read,
                objects_seen=read.stats.objects,
                api_version=read.discovery.server_version,
                istio_versions=result.control_planes,
                capacity=read.capacity(),
                gaps=read.stats.gaps,
                namespaces_total=len(namespaces),
                pods_total=sum(ns.pods_total for ns in counted),
                pods_meshed=sum(ns.pods_meshed for ns in counted),
                error="",
            )
    except Exception as exc:
        if isinstance(exc, kube.KubeError):
            message = str(exc)
        elif isinstance(exc, SoftTimeLimitExceeded):
            message = (
                f"poll of {cluster.name} exceeded the soft time limit "
                f"({settings.MESHBOARD_POLL_SOFT_TIME_LIMIT} s, MESHBOARD_POLL_SOFT_TIME_LIMIT)"
            )
        else:
            message = f"internal error polling {cluster.name}: {type(exc).__name__}: {exc}"
        message = safe_error(message)
        if isinstance(exc, kube.KubeError | SoftTimeLimitExceeded):
            log.warning("poll of cluster %s failed: %s", cluster.name, message)
        else:
            # A bug or a database error: the traceback goes to the log, never into the stored
            # error; the task still ends normally (its outcome is the failed snapshot row).
            log.exception("poll of cluster %s failed: %s", cluster.name, message)
        _record_failure(snap, message, t0)
    except BaseException:
        # SIGTERM from a worker shutting down (e.g. the broker went away) or a hard stop: record
        # it if the database still answers, then let the interruption go on.
        _record_failure(snap, f"poll of {cluster.name} was interrupted (worker stopping)", t0)
        raise
    finally:
        trim_heap()
    snap.refresh_from_db()
    return snap


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the C library loaded
        libc.malloc_trim, libc.mallopt  # noqa: B018 - present in glibc only
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return None
    return libc


_GLIBC = _glibc()

# glibc serves a large allocation from its heap once a buffer that size was freed (its dynamic
# mmap threshold rises up to 32 MB), so a poll's page bodies (~9 MB each for 500 injected pods)
# and their decode buffers fragment the arenas and the worker's RSS creeps up from poll to poll
# (measured: peak 306 -> 324 MB over three 52k-pod polls). A fixed 1 MB threshold maps every
# such buffer on its own and returns it on free (peak 296-297 MB over the same polls).
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def bound_heap() -> None:
    """Fix the process's mmap threshold (see `MMAP_THRESHOLD`); set by each read of a cluster,
    so only the processes that poll have it."""
    if _GLIBC is not None:
        _GLIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def trim_heap() -> None:
    """Give the C heap's free memory back to the system after a poll. A poll's hundreds of
    megabytes of page bodies and large tables are freed when it ends, but glibc keeps freed
    memory in its arenas (one per thread: the page prefetch has its own), so without this the
    worker's RSS after one big poll stays tens of MB above what it holds (measured: 327 -> 299
    MB after the 52k-pod poll), and the next poll's peak starts from there."""
    if _GLIBC is not None:
        _GLIBC.malloc_trim(0)


def _record_failure(snap: Snapshot, message: str, t0: float) -> None:
    """Mark the snapshot failed. A broken database connection (killed backend) is replaced
    first; if even that fails, the row stays ``running`` and the beat tick reaps it."""
    for attempt in range(2):
        try:
            Snapshot.objects.filter(pk=snap.pk, status=SnapshotStatus.RUNNING).update(
                status=SnapshotStatus.FAILED,
                finished_at=timezone.now(),
                duration_ms=int((time.monotonic() - t0) * 1000),
                error=message,
            )
            return
        except DatabaseError:
            if attempt == 0:
                connection.close()  # the next query opens a fresh connection
            else:
                log.exception("could not record the failure of snapshot %s", snap.pk)
