"""One poll of one cluster: kube → classify → store.

`snapshot_cluster` is the plain function the Celery task calls (and tests call directly).
Nothing is written for a poll until every resource has been read and classified; then the
observations and the ``ok`` status land in one transaction. A failed poll records its error on
its snapshot row and nothing else, so the previous good snapshot stays the current one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import kube
from .models import Cluster, NamespaceObservation, Snapshot, SnapshotStatus

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "local-path-storage", "istio-system"}
)

# What a poll lists. Required ones fail the poll when unreadable; optional ones become gaps.
REQUIRED = (
    kube.Resource("namespaces", kube.core("list_namespace")),
    kube.Resource("pods", kube.core("list_pod_for_all_namespaces")),
)


@dataclass
class ClusterRead:
    """Everything read from one cluster in one poll."""

    discovery: kube.Discovery
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    stats: kube.ListStats = field(default_factory=kube.ListStats)


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


def list_options() -> kube.ListOptions:
    return kube.ListOptions(
        page_size=settings.MESHBOARD_KUBE_PAGE_SIZE,
        connect_timeout=settings.MESHBOARD_KUBE_CONNECT_TIMEOUT,
        read_timeout=settings.MESHBOARD_KUBE_READ_TIMEOUT,
    )


def read_cluster(cluster: Cluster, opts: kube.ListOptions | None = None) -> ClusterRead:
    """List everything a snapshot needs. Raises `kube.KubeError` when the poll cannot stand."""
    opts = opts or list_options()
    api = kube.build_api_client(connection_for(cluster))
    try:
        read = ClusterRead(discovery=kube.discover(api, opts))
        for resource in REQUIRED:
            read.objects[resource.name] = kube.list_items(api, resource, opts, read.stats)
        return read
    finally:
        api.close()


def _has_proxy(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    if any(c.get("name") == "istio-proxy" for c in spec.get("containers") or []):
        return True
    if any(
        c.get("name") == "istio-proxy" and c.get("restartPolicy") == "Always"
        for c in spec.get("initContainers") or []
    ):
        return True
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return annotations.get("ambient.istio.io/redirection") == "enabled"


def _injection(labels: dict[str, str]) -> tuple[str, str]:
    if "istio-injection" in labels:
        return (
            "sidecar-default" if labels["istio-injection"] == "enabled" else "sidecar-disabled"
        ), ""
    if labels.get("istio.io/rev"):
        return "sidecar-revision", labels["istio.io/rev"]
    if labels.get("istio.io/dataplane-mode") == "ambient":
        return "ambient", ""
    return "not-enrolled", ""


def observe_namespaces(read: ClusterRead) -> list[dict[str, Any]]:
    """Per-namespace figures of one read."""
    rows: dict[str, dict[str, Any]] = {}
    for ns in read.objects["namespaces"]:
        meta = ns.get("metadata") or {}
        name = meta.get("name") or ""
        labels = meta.get("labels") or {}
        injection, revision = _injection(labels)
        rows[name] = {
            "namespace": name,
            "tribe": labels.get(settings.CLUSTER_LABEL_TRIBE, ""),
            "injection": "system-ignored" if name in SYSTEM_NAMESPACES else injection,
            "revision": revision,
            "system": name in SYSTEM_NAMESPACES,
            "pods_total": 0,
            "pods_meshed": 0,
        }
    for pod in read.objects["pods"]:
        meta = pod.get("metadata") or {}
        row = rows.get(meta.get("namespace") or "")
        phase = (pod.get("status") or {}).get("phase")
        if row is None or phase in ("Succeeded", "Failed"):
            continue
        row["pods_total"] += 1
        row["pods_meshed"] += _has_proxy(pod)
    return list(rows.values())


def _claim(cluster: Cluster, started_at: datetime) -> Snapshot | None:
    """Create or reuse the snapshot row for this scheduled poll; None if it already succeeded."""
    snap, _ = Snapshot.objects.get_or_create(cluster=cluster, started_at=started_at)
    if snap.status == SnapshotStatus.OK:
        return None
    Snapshot.objects.filter(pk=snap.pk).update(
        status=SnapshotStatus.RUNNING, error="", attempts=snap.attempts + 1
    )
    return snap


def snapshot_cluster(cluster: Cluster, *, started_at: datetime | None = None) -> Snapshot:
    """Poll ``cluster`` once and store the result; returns the (ok or failed) snapshot.

    1. Claim the snapshot row keyed by (cluster, started_at): a redelivered task finds it.
    2. Read and classify everything in memory; no observation is written yet.
    3. In one transaction: insert the observations and flip the snapshot to ``ok``.
    4. On any error: record it on the snapshot (status ``failed``), write nothing else.
    """
    started_at = started_at or timezone.now()
    snap = _claim(cluster, started_at)
    if snap is None:
        log.info("poll of %s at %s already stored; skipping redelivery", cluster.name, started_at)
        return Snapshot.objects.get(cluster=cluster, started_at=started_at)
    t0 = time.monotonic()
    try:
        read = read_cluster(cluster)
        rows = observe_namespaces(read)
        with transaction.atomic():
            NamespaceObservation.objects.bulk_create(
                NamespaceObservation(snapshot=snap, cluster=cluster, observed_at=started_at, **row)
                for row in rows
            )
            counted = [r for r in rows if not r["system"]]
            Snapshot.objects.filter(pk=snap.pk).update(
                status=SnapshotStatus.OK,
                finished_at=timezone.now(),
                duration_ms=int((time.monotonic() - t0) * 1000),
                bytes_read=read.stats.bytes_read,
                objects_seen=read.stats.objects,
                api_version=read.discovery.server_version,
                gaps=read.stats.gaps,
                namespaces_total=len(rows),
                pods_total=sum(r["pods_total"] for r in counted),
                pods_meshed=sum(r["pods_meshed"] for r in counted),
                error="",
            )
    except Exception as exc:
        message = (
            str(exc)
            if isinstance(exc, kube.KubeError)
            else f"internal error: {type(exc).__name__}: {exc}"
        )
        log.warning("poll of cluster %s failed: %s", cluster.name, message)
        Snapshot.objects.filter(pk=snap.pk).update(
            status=SnapshotStatus.FAILED,
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - t0) * 1000),
            error=message[:4000],
        )
        if not isinstance(exc, kube.KubeError):
            raise
    snap.refresh_from_db()
    return snap
