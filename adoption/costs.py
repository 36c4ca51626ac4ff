"""Capacity queries: today's proxy cost per cluster and what each target will add.

Reads each cluster's last good snapshot (its stored capacity summary) and the rollups; the
arithmetic is `adoption.capacity.project`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from . import capacity, progress
from .metrics import Metric
from .models import Snapshot, Target

# Targets whose progress means more proxies (the rest — resilience, versions, cost — add none).
ADOPTION_METRICS = {
    Metric.WORKLOADS_MESHED,
    Metric.WORKLOADS_MESHED_ELIGIBLE,
    Metric.PODS_MESHED,
    Metric.NAMESPACES_ENABLED,
}


@dataclass(frozen=True)
class Istiod:
    replicas: int
    replicas_max: int
    cpu_request_m_per_replica: int


def istiod_in(scope: progress.Scope) -> Istiod:
    """istiod replicas (now and at the HPA maximum) over the clusters of a scope."""
    ids = progress.latest_snapshot_ids(environment=scope.environment, cluster=scope.cluster)
    replicas = replicas_max = cpu = 0
    for cap in Snapshot.objects.filter(pk__in=ids).values_list("capacity", flat=True):
        for cp in (cap or {}).get("control_planes", []):
            n = int(cp.get("replicas") or 0)
            high = cp.get("hpa_max")
            replicas += n
            replicas_max += max(int(high), n) if high is not None else n
            cpu += int(cp.get("cpu_request_m") or 0) * n
    return Istiod(replicas, replicas_max, cpu // replicas if replicas else 0)


def target_projection(target: Target, actual: float | None) -> capacity.Projection | None:
    """What meeting ``target`` adds, at today's per-proxy requests; None for metrics that
    add no proxies."""
    if Metric(target.metric) not in ADOPTION_METRICS:
        return None
    scope = progress.Scope.for_target(target)
    now = progress.current(scope)
    outside = max(now.sums.get("pods_total", 0) - now.sums.get("pods_meshed", 0), 0)
    if actual is None or actual >= target.value or actual >= 100:
        share = 0.0
    else:
        share = (target.value - actual) / (100.0 - actual)
    # istiod serves every proxy of its clusters, not only the target's tribe
    served = progress.current(progress.Scope(environment=scope.environment, cluster=scope.cluster))
    istiod = istiod_in(scope)
    return capacity.project(
        pods_outside=outside,
        share_to_mesh=share,
        proxies_now=now.sums.get("pods_meshed", 0),
        proxy_cpu_request_m=now.sums.get("proxy_cpu_request_m", 0),
        proxy_memory_request_b=now.sums.get("proxy_memory_request_b", 0),
        istiod_replicas_max=istiod.replicas_max,
        istiod_cpu_request_m=istiod.cpu_request_m_per_replica,
        proxies_per_vcpu=settings.MESHBOARD_PROXIES_PER_ISTIOD_VCPU,
        proxies_served_now=served.sums.get("pods_meshed", 0),
    )


def cluster_rows(snapshot_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Per cluster (its last good snapshot, or the given ones): proxies, requests, usage (None
    without a metrics API), istiod replicas and load."""
    ids = progress.latest_snapshot_ids() if snapshot_ids is None else snapshot_ids
    rows = []
    snaps = Snapshot.objects.filter(pk__in=ids).select_related("cluster").order_by("cluster__name")
    for snap in snaps:
        cap = snap.capacity or {}
        usage = cap.get("usage")
        proxies = int(cap.get("proxies") or 0)
        rows.append(
            {
                "cluster": snap.cluster.name,
                "observed_at": snap.started_at,
                "proxies": proxies,
                "istiod_replicas": cap.get("istiod_replicas", 0),
                "proxies_per_replica": cap.get("proxies_per_replica"),
                "proxy_cpu_request_m": cap.get("proxy_cpu_request_m", 0),
                "proxy_memory_request_b": cap.get("proxy_memory_request_b", 0),
                "cpu_request_per_proxy_m": (cap.get("proxy_cpu_request_m", 0) / proxies)
                if proxies
                else None,
                "sidecar_cpu_share": _share(
                    cap.get("proxy_cpu_request_m"), cap.get("app_cpu_request_m")
                ),
                "sidecar_memory_share": _share(
                    cap.get("proxy_memory_request_b"), cap.get("app_memory_request_b")
                ),
                "metrics_api": bool(cap.get("metrics_api")),
                "proxy_cpu_usage_m": usage.get("cpu_m") if usage else None,
                "proxy_cpu_usage_p95_m": usage.get("cpu_p95_m") if usage else None,
                "proxy_memory_usage_b": usage.get("memory_b") if usage else None,
                "proxy_memory_usage_p95_b": usage.get("memory_p95_b") if usage else None,
                "control_planes": cap.get("control_planes", []),
                "errors": cap.get("errors", []),
            }
        )
    return rows


def _share(part: int | None, whole: int | None) -> float | None:
    """The sidecar's requests as a share of the workload's own (percent)."""
    return 100.0 * part / whole if part and whole else None
