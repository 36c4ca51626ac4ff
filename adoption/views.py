"""Pages. Login is required everywhere by `LoginRequiredMiddleware`; health probes opt out."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import charts, progress
from .models import Cluster


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    points = progress.namespace_share_series()
    ctx = {
        "headline": progress.headline(),
        "chart": charts.pod_share_over_time(points),
        "series_rows": points[-200:],
        "clusters": Cluster.objects.with_latest_snapshot(),
    }
    return render(request, "adoption/overview.html", ctx)


@require_GET
def cluster_detail(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.with_latest_snapshot(), name=name)
    ctx = {"cluster": cluster, "snapshots": cluster.snapshots.all()[:50]}
    return render(request, "adoption/cluster.html", ctx)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: touches no dependency, so a database blip never restarts healthy pods."""
    return JsonResponse({"status": "ok"})
