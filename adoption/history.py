"""Stored history over time: re-resolution after a reorg, and retention.

Retention keeps (1) every snapshot with its observations inside the recent window
(``MESHBOARD_RETENTION_FULL_DAYS``), (2) after that, each cluster's last good snapshot of each
day, up to ``MESHBOARD_RETENTION_DAILY_DAYS``, and (3) daily rollups forever. It deletes in
bounded batches, each in its own transaction, so it never holds long locks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import (
    NamespaceObservation,
    Snapshot,
    SnapshotRollup,
    SnapshotStatus,
    WorkloadObservation,
)
from .org import Resolver, resolver_for
from .store import NamespaceRow, WorkloadRow, rollup_counts, write_rollups
from .store import _ensure_org as ensure_org

_WL_FIELDS = [
    "namespace", "kind", "name", "tribe", "squad", "system", "state", "pods_total", "pods_meshed",
    "behind", "services", "timeout", "retries", "circuit_breaking", "outlier_detection",
    "proxy_cpu_request_m", "proxy_memory_request_b", "waived",
]  # fmt: skip


def rebuild_rollups(snapshot: Snapshot) -> None:
    """Recompute a snapshot's rollups from its stored observations."""
    workloads = [
        WorkloadRow(**row)
        for row in WorkloadObservation.objects.filter(snapshot=snapshot).values(*_WL_FIELDS)
    ]
    namespaces = [
        NamespaceRow(**row)
        for row in NamespaceObservation.objects.filter(snapshot=snapshot).values(
            "namespace", "tribe", "injection", "revision", "system"
        )
    ]
    write_rollups(snapshot, rollup_counts(workloads, namespaces))


def _reresolve_snapshot(snapshot: Snapshot, resolver: Resolver, squad_key: str) -> None:
    namespaces = list(NamespaceObservation.objects.filter(snapshot=snapshot))
    for ns in namespaces:
        ns.tribe = resolver.tribe(ns.namespace, ns.labels)
    NamespaceObservation.objects.bulk_update(namespaces, ["tribe"], batch_size=1000)
    tribes = {ns.namespace: ns.tribe for ns in namespaces}
    workloads = list(
        WorkloadObservation.objects.filter(snapshot=snapshot).only(
            "id", "namespace", "name", "squad_label"
        )
    )
    for w in workloads:
        w.tribe = tribes.get(w.namespace, "")
        w.squad = resolver.squad(w.namespace, w.name, {squad_key: w.squad_label})
    WorkloadObservation.objects.bulk_update(workloads, ["tribe", "squad"], batch_size=2000)
    # A tribe/squad first named by a new rule joins the org chart, as a poll would add it.
    ensure_org(
        [
            WorkloadRow(w.namespace, "", w.name, w.tribe, w.squad, False, "")
            for w in workloads
            if w.tribe and w.squad
        ],
        [NamespaceRow(ns.namespace, ns.tribe, "", "", False) for ns in namespaces if ns.tribe],
    )
    rebuild_rollups(snapshot)


def reresolve(
    since: date, *, clusters: list[str] | None = None, progress: Callable[[str], object] = print
) -> int:
    """Apply today's ownership rules to every stored good snapshot since ``since``.

    Each snapshot is resolved from its *own* stored labels: the resolver caches a namespace's
    tribe, so a fresh one is used per snapshot (a namespace relabelled between two polls must
    keep each poll's answer).
    """
    snaps = Snapshot.objects.ok().filter(started_at__date__gte=since).select_related("cluster")
    if clusters:
        snaps = snaps.filter(cluster__name__in=clusters)
    done = 0
    for snapshot in snaps.order_by("started_at").iterator():
        resolver = resolver_for(snapshot.cluster.name)
        with transaction.atomic():
            _reresolve_snapshot(snapshot, resolver, settings.CLUSTER_LABEL_SQUAD)
        done += 1
        if done % 100 == 0:
            progress(f"{done} snapshots re-resolved")
    return done


def _delete_in_batches(ids_query: Callable[[], list[int]], batch: int) -> int:
    deleted = 0
    while True:
        ids = ids_query()[:batch]
        if not ids:
            return deleted
        with transaction.atomic():
            Snapshot.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def apply_retention(now: datetime | None = None, *, batch: int = 200) -> dict[str, int]:
    """Delete what the retention policy no longer keeps. Returns counts per step."""
    now = now or timezone.now()
    full_cutoff = now - timedelta(days=settings.MESHBOARD_RETENTION_FULL_DAYS)
    daily_cutoff = now - timedelta(days=settings.MESHBOARD_RETENTION_DAILY_DAYS)
    # Outside the full window a snapshot survives only as its cluster's last good one of its day:
    # thin every snapshot that is not good, or that a later good one of the same day (also
    # outside the window) supersedes. A correlated EXISTS, so no id list travels to Python and
    # each batch re-evaluates against what is left (idempotent, restartable).
    later_good_same_day = (
        Snapshot.objects.ok()
        .annotate(day=TruncDate("started_at"))
        .filter(
            cluster_id=OuterRef("cluster_id"),
            day=OuterRef("day"),
            started_at__gt=OuterRef("started_at"),
            started_at__lt=full_cutoff,
        )
    )

    def old_not_kept() -> list[int]:
        return list(
            Snapshot.objects.filter(started_at__lt=full_cutoff)
            .annotate(day=TruncDate("started_at"))
            .filter(~Q(status=SnapshotStatus.OK) | Exists(later_good_same_day))
            .order_by("started_at")
            .values_list("pk", flat=True)[:batch]
        )

    def too_old() -> list[int]:
        return list(
            Snapshot.objects.filter(started_at__lt=daily_cutoff)
            .order_by("started_at")
            .values_list("pk", flat=True)[:batch]
        )

    result = {"snapshots_thinned": _delete_in_batches(old_not_kept, batch)}
    # Per-snapshot rollups only serve the recent window; daily rollups carry the rest.
    old_rollups = SnapshotRollup.objects.filter(observed_at__lt=full_cutoff)
    result["snapshot_rollups_deleted"] = 0
    while True:
        ids = list(old_rollups.values_list("pk", flat=True)[: batch * 20])
        if not ids:
            break
        result["snapshot_rollups_deleted"] += SnapshotRollup.objects.filter(pk__in=ids).delete()[0]
    result["snapshots_expired"] = _delete_in_batches(too_old, batch)
    return result
