"""Targets and waivers: everyone reads, staff create and edit."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ..forms import TargetForm, WaiverForm
from ..models import Target, Waiver
from .common import target_views


@require_GET
def target_list(request: HttpRequest) -> HttpResponse:
    targets = list(Target.objects.select_related("tribe", "squad", "cluster"))
    views = target_views(targets, with_projection=True)
    return render(request, "adoption/targets.html", {"targets": views, "projections": True})


@staff_member_required
@require_http_methods(["GET", "POST"])
def target_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    target = get_object_or_404(Target, pk=pk) if pk else None
    form = TargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"Saved target: {saved}")
        return redirect("adoption:targets")
    return render(request, "adoption/target_form.html", {"form": form, "target": target})


@require_GET
def waiver_list(request: HttpRequest) -> HttpResponse:
    today = timezone.now().date()
    waivers = Waiver.objects.select_related("cluster")
    return render(
        request,
        "adoption/waivers.html",
        {
            "active": waivers.active_on(today),
            "expired": waivers.filter(expires_on__lte=today)[:100],
            "today": today,
        },
    )


@staff_member_required
@require_http_methods(["GET", "POST"])
def waiver_create(request: HttpRequest) -> HttpResponse:
    form = WaiverForm(
        request.POST or None, initial=request.GET.dict() if request.method == "GET" else None
    )
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"Waiver recorded: {saved}. It counts from the next poll.")
        return redirect("adoption:waivers")
    return render(request, "adoption/waiver_form.html", {"form": form})
