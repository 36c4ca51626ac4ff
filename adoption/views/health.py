"""Liveness probe (readiness is meshboard.health.readyz)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: touches no dependency, so a database blip never restarts healthy pods."""
    return JsonResponse({"status": "ok"})
