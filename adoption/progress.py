"""Read-side queries: series and current figures for pages, charts and exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from .models import Cluster, NamespaceObservation, Snapshot, SnapshotStatus


@dataclass(frozen=True)
class Headline:
    pods_total: int
    pods_meshed: int
    clusters: int
    clusters_reporting: int

    @property
    def pods_share(self) -> float | None:
        return 100.0 * self.pods_meshed / self.pods_total if self.pods_total else None


def latest_ok_snapshots() -> list[Snapshot]:
    """Each enabled cluster's last good snapshot (Postgres DISTINCT ON; one query)."""
    return list(
        Snapshot.objects.filter(status=SnapshotStatus.OK, cluster__enabled=True)
        .order_by("cluster_id", "-started_at")
        .distinct("cluster_id")
    )


def headline() -> Headline:
    snaps = latest_ok_snapshots()
    return Headline(
        pods_total=sum(s.pods_total for s in snaps),
        pods_meshed=sum(s.pods_meshed for s in snaps),
        clusters=Cluster.objects.enabled().count(),
        clusters_reporting=len(snaps),
    )


def namespace_share_series(
    since: datetime | None = None, *, max_points: int = 20_000
) -> list[tuple[datetime, str, int, int]]:
    """(time, "cluster/namespace", meshed, total) for non-system namespaces of good snapshots."""
    since = since or timezone.now() - timedelta(days=30)
    rows = (
        NamespaceObservation.objects.filter(
            snapshot__status=SnapshotStatus.OK, system=False, observed_at__gte=since
        )
        .order_by("observed_at", "cluster__name", "namespace")
        .values_list("observed_at", "cluster__name", "namespace", "pods_meshed", "pods_total")[
            :max_points
        ]
    )
    return [(at, f"{cluster}/{ns}", meshed, total) for at, cluster, ns, meshed, total in rows]


def org_share_series(since: datetime | None = None) -> list[tuple[datetime, int, int]]:
    """Org-wide (time, meshed, total) per snapshot time."""
    since = since or timezone.now() - timedelta(days=30)
    rows = (
        Snapshot.objects.filter(status=SnapshotStatus.OK, started_at__gte=since)
        .values("started_at")
        .annotate(meshed=Sum("pods_meshed"), total=Sum("pods_total"))
        .order_by("started_at")
    )
    return [(r["started_at"], r["meshed"] or 0, r["total"] or 0) for r in rows]
