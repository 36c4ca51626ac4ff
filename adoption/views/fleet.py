"""The platform team's pages: clusters (poll health, control planes, versions) and workloads."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .. import charts, costs, progress
from ..models import Cluster, NamespaceObservation, SnapshotStatus, WorkloadObservation


def _stale(cluster: Cluster) -> bool:
    last = getattr(cluster, "last_success_at", None)
    return last is None or timezone.now() - last > cluster.stale_after()


@require_GET
def cluster_list(request: HttpRequest) -> HttpResponse:
    clusters = list(Cluster.objects.with_latest_snapshot())
    for c in clusters:
        c.stale = _stale(c)  # type: ignore[attr-defined]
    return render(request, "adoption/clusters.html", {"clusters": clusters})


def _version_counts(snapshot_id: int) -> Counter[str]:
    """Meshed workloads per proxy version in one snapshot (one SQL aggregate)."""
    table = WorkloadObservation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT v, count(*) FROM {table}, jsonb_array_elements_text(proxy_versions) v "  # noqa: S608
            "WHERE snapshot_id = %s GROUP BY v",
            [snapshot_id],
        )
        return Counter(dict(cursor.fetchall()))


@require_GET
def cluster_detail(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.with_latest_snapshot(), name=name)
    snapshots = list(cluster.snapshots.all()[:50])
    latest = cluster.snapshots.filter(status=SnapshotStatus.OK).first()
    ctx: dict[str, object] = {
        "cluster": cluster,
        "stale": _stale(cluster),
        "snapshots": snapshots,
        "latest": latest,
    }
    if latest is not None:
        workloads = WorkloadObservation.objects.filter(snapshot=latest)
        versions = _version_counts(latest.pk)
        since = timezone.now() - timedelta(days=2)
        ns_points = (
            NamespaceObservation.objects.filter(
                cluster=cluster,
                system=False,
                observed_at__gte=since,
                snapshot__status=SnapshotStatus.OK,
            )  # fmt: skip
            .order_by("observed_at", "namespace")
            .values_list("observed_at", "namespace", "pods_meshed", "pods_total")
        )
        diagnostics: Counter[str] = Counter()
        for codes in workloads.exclude(diagnostics=[]).values_list("diagnostics", flat=True):
            diagnostics.update(codes)
        ctx |= {
            "namespaces": NamespaceObservation.objects.filter(snapshot=latest).order_by(
                "-system", "namespace"
            ),
            "versions_chart": charts.version_bars(dict(versions), latest.istio_versions),
            "versions": sorted(versions.items()),
            "ns_chart": charts.pod_share_over_time(ns_points),
            "diagnostics": sorted(diagnostics.items()),
            "point": progress.current(progress.Scope(cluster=cluster.name)),
            "capacity": next(iter(costs.cluster_rows([latest.pk])), None),
        }
    return render(request, "adoption/cluster.html", ctx)


def restart_command(cluster: Cluster, namespace: str, kind: str, name: str) -> str:
    """The command that gives a workload's pods their proxy (new pods get injected)."""
    if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        return ""
    context = cluster.context or cluster.name
    return f"kubectl --context {context} -n {namespace} rollout restart {kind.lower()}/{name}"


@require_GET
def workload_detail(
    request: HttpRequest, cluster: str, namespace: str, kind: str, name: str
) -> HttpResponse:
    c = get_object_or_404(Cluster, name=cluster)
    history = list(
        WorkloadObservation.objects.filter(
            cluster=c, namespace=namespace, kind=kind, name=name, snapshot__status="ok"
        ).order_by("-observed_at")[:365]
    )
    if not history:
        ctx = {"cluster": c, "missing": True, "namespace": namespace, "kind": kind, "name": name}
        return render(request, "adoption/workload.html", ctx, status=404)
    current = history[0]
    # Collapse the history into spans of unchanged state (what changed, and when).
    spans: list[dict[str, object]] = []
    for obs in reversed(history):
        if spans and spans[-1]["state"] == obs.state and spans[-1]["reason"] == obs.reason:
            spans[-1]["until"] = obs.observed_at
        else:
            spans.append(
                {
                    "state": obs.state,
                    "reason": obs.reason,
                    "since": obs.observed_at,
                    "until": obs.observed_at,
                }
            )
    ctx = {
        "cluster": c,
        "w": current,
        "spans": list(reversed(spans)),
        "restart": restart_command(c, namespace, kind, name),
    }
    return render(request, "adoption/workload.html", ctx)
