"""``/metrics``: Prometheus exposition of meshboard's own figures.

Two registries: django-prometheus' default one (requests, latencies, per process) and an
adoption registry whose collector reads the rollups at scrape time (one query), so Grafana can
chart and alert on the same numbers the pages show. Access: a bearer token
(``MESHBOARD_METRICS_TOKEN``) or a logged-in session; the figures are business data.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from .models import Cluster, SnapshotRollup

GAUGES = {
    "workloads_total": "Workloads outside system namespaces (not idle)",
    "workloads_meshed": "Workloads with every pod in the mesh",
    "workloads_missing": "Workloads missing a proxy (restart needed)",
    "workloads_opted_out": "Workloads opted out of the mesh",
    "workloads_behind": "Meshed workloads whose proxy is older than their control plane",
    "pods_total": "Pods outside system namespaces",
    "pods_meshed": "Pods with an Istio proxy",
    "proxy_cpu_request_m": "Sum of istio-proxy CPU requests (millicores)",
    "proxy_memory_request_b": "Sum of istio-proxy memory requests (bytes)",
}


class AdoptionCollector(Collector):
    """Current figures per (cluster, tribe, squad) and poll health per cluster."""

    def collect(self) -> Iterator[Metric]:
        families = {
            name: GaugeMetricFamily(
                f"meshboard_{name}", help_, labels=["cluster", "tribe", "squad"]
            )
            for name, help_ in GAUGES.items()
        }
        latest = (
            SnapshotRollup.objects.filter(
                snapshot__in=_latest_snapshot_ids(),
            )
            .values_list("cluster__name", "tribe", "squad", *GAUGES)
            .order_by("cluster__name", "tribe", "squad")
        )
        for cluster, tribe, squad, *values in latest:
            for family, value in zip(families.values(), values, strict=True):
                family.add_metric([cluster, tribe or "Unassigned", squad or "Unassigned"], value)
        yield from families.values()

        success = GaugeMetricFamily(
            "meshboard_cluster_last_success_timestamp_seconds",
            "When the cluster was last polled successfully (Unix time)",
            labels=["cluster"],
        )
        duration = GaugeMetricFamily(
            "meshboard_cluster_last_poll_duration_seconds",
            "Duration of the last good poll",
            labels=["cluster"],
        )
        stale = GaugeMetricFamily(
            "meshboard_cluster_stale",
            "1 when no good poll for more than two intervals",
            labels=["cluster"],
        )
        now = timezone.now()
        for c in Cluster.objects.enabled().with_latest_snapshot():
            last = getattr(c, "last_success_at", None)
            if last is not None:
                success.add_metric([c.name], last.timestamp())
                duration.add_metric(
                    [c.name], (getattr(c, "last_success_duration_ms", 0) or 0) / 1000.0
                )
            is_stale = last is None or now - last > c.stale_after()
            stale.add_metric([c.name], 1.0 if is_stale else 0.0)
        yield success
        yield duration
        yield stale


def _latest_snapshot_ids() -> list[int]:
    from .progress import latest_snapshot_ids

    return latest_snapshot_ids()


adoption_registry = CollectorRegistry(auto_describe=False)
adoption_registry.register(AdoptionCollector())


def _authorised(request: HttpRequest) -> bool:
    token = settings.MESHBOARD_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    return bool(request.user.is_authenticated)


@login_not_required
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="meshboard metrics"'
        return response
    body = generate_latest(REGISTRY) + generate_latest(adoption_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
