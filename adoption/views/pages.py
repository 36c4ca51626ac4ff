"""Leadership overview, tribe and squad pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from .. import charts, metrics, progress
from ..filters import WorkloadFilter
from ..models import (
    Cluster,
    NamespaceObservation,
    ScopeKind,
    Squad,
    Target,
    Tribe,
    Waiver,
    WorkloadObservation,
)
from ..org import UNASSIGNED
from ..tables import WorkloadTable
from .common import TargetView, headline, page_filters, target_views, trend_chart
from .rendered import (
    cached_body,
    cached_fragment,
    data_version,
    render_page,
    tribe_names,
)
from .todo import FILTER_FIELDS, PAGE_FIELDS, TODO_LISTS, todo_section

BAR_METRIC = metrics.Metric.WORKLOADS_MESHED


def _tribe_param(name: str) -> str:
    """URL name → stored tribe value ("Unassigned" is stored as "")."""
    return "" if name == UNASSIGNED else name


def _group_bars(scope: progress.Scope, group_by: str, views: list[TargetView]) -> tuple[dict, list]:
    """Per tribe (or squad) actual vs target on the bar metric, with status in words."""
    by_group = progress.current_by(scope, group_by)
    target_for: dict[str, TargetView] = {}
    for view in views:
        if view.target.metric != BAR_METRIC:
            continue
        key = view.target.tribe.name if group_by == "tribe" and view.target.tribe else None
        if group_by == "squad" and view.target.squad:
            key = view.target.squad.name
        if key is not None:
            target_for[key] = view
    rows = []
    for group, point in sorted(by_group.items()):
        found = target_for.get(group)
        status = found.progress.status.label if found else "no target"
        rows.append(
            (
                group or UNASSIGNED,
                point.value(BAR_METRIC),
                found.target.value if found else None,
                status,
            )
        )
    return charts.bars_with_targets(rows, metric_label=metrics.DEFS[BAR_METRIC].label), rows


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    def build(bare: HttpRequest) -> dict[str, Any]:
        form, f = page_filters(bare)
        scope = progress.Scope(
            environment=f.get("environment") or None, cluster=f.get("cluster") or None
        )
        org_targets = target_views(
            list(Target.objects.filter(scope=ScopeKind.ORG).select_related("cluster"))
        )
        trend, trend_rows, grain, cost = trend_chart(scope, f["start"], f["end"], org_targets)
        tribe_targets = Target.objects.filter(scope=ScopeKind.TRIBE, metric=BAR_METRIC)
        bars, bar_rows = _group_bars(
            scope, "tribe", target_views(list(tribe_targets.select_related("tribe")))
        )
        return {
            "form": form,
            "f": f,
            "scope": scope,
            "figures": headline(scope, f["since"]),
            "trend": trend,
            "trend_rows": trend_rows,
            "cost": cost,
            "grain": grain,
            "bars": bars,
            "bar_rows": bar_rows,
            "targets": org_targets,
        }

    body = cached_body(request, "overview", "adoption/overview.html", build, fields=FILTER_FIELDS)
    health = cached_fragment(
        request,
        "polling-health",
        "adoption/partials/polling_health.html",
        lambda: {"clusters": list(Cluster.objects.with_latest_snapshot())},
    )
    return render_page(request, "Overview", body, health)


NAMESPACE_ROWS = 50


def check_tribe(request: HttpRequest, tribe: str) -> str:
    """The stored tribe value of URL name ``tribe`` (404 when there is no such tribe), from
    the cached tribe list of this data version when it is there."""
    stored = _tribe_param(tribe)
    data_version(request)  # so that the tribe names come from the cache of this version
    if stored and stored not in (tribe_names(request) or ()):
        # not among the tribes of this data version: ask the table (a tribe added since)
        if not Tribe.objects.filter(name=stored).exists():
            raise Http404("No such tribe")
    return stored


@require_GET
def tribe_detail(request: HttpRequest, tribe: str) -> HttpResponse:
    stored = check_tribe(request, tribe)

    def build(bare: HttpRequest) -> dict[str, Any]:
        form, f = page_filters(bare)
        scope = progress.Scope(
            tribe=stored, environment=f.get("environment") or None, cluster=f.get("cluster") or None
        )
        targets = list(
            Target.objects.filter(tribe__name=stored).select_related("tribe", "squad", "cluster")
        )
        views = target_views(targets)  # each target's progress, computed once for the page
        tribe_level = [v for v in views if v.target.scope == ScopeKind.TRIBE]
        trend, trend_rows, grain, cost = trend_chart(scope, f["start"], f["end"], tribe_level)
        squad_level = [v for v in views if v.target.scope == ScopeKind.SQUAD]
        bars, bar_rows = _group_bars(scope, "squad", squad_level)
        ids = progress.latest_snapshot_ids(environment=scope.environment, cluster=scope.cluster)
        ns_qs = NamespaceObservation.objects.filter(
            snapshot_id__in=ids, tribe=stored, system=False
        ).order_by("namespace", "cluster__name")
        namespaces = list(ns_qs.select_related("cluster")[:NAMESPACE_ROWS])
        ns_total = ns_qs.count() if len(namespaces) == NAMESPACE_ROWS else len(namespaces)
        ns_names = set(ns_qs.values_list("namespace", flat=True).distinct())
        return {
            "tribe": tribe,
            "form": form,
            "f": f,
            "today": timezone.now().date(),
            "figures": headline(scope, f["since"]),
            "trend": trend,
            "trend_rows": trend_rows,
            "cost": cost,
            "grain": grain,
            "bars": bars,
            "bar_rows": bar_rows,
            "targets": views,
            "namespaces": namespaces,
            "namespaces_total": ns_total,
            "todo": [todo_section(bare, t, tribe, ids, f) for t in TODO_LISTS],
            "waivers": list(
                Waiver.objects.filter(namespace__in=ns_names).select_related("cluster")
            ),
        }

    body = cached_body(
        request,
        "tribe",
        "adoption/tribe.html",
        build,
        fields=PAGE_FIELDS,
        params={"tribe": stored},
    )
    return render_page(request, f"Tribe {tribe}", body)


@require_GET
def squad_detail(request: HttpRequest, tribe: str, squad: str) -> HttpResponse:
    stored_tribe, stored_squad = _tribe_param(tribe), "" if squad == UNASSIGNED else squad
    if stored_squad:
        get_object_or_404(Squad, tribe__name=stored_tribe, name=stored_squad)
    form, f = page_filters(request)
    scope = progress.Scope(
        tribe=stored_tribe,
        squad=stored_squad,
        environment=f.get("environment") or None,
        cluster=f.get("cluster") or None,
    )
    ids = progress.latest_snapshot_ids(environment=scope.environment, cluster=scope.cluster)
    base = WorkloadObservation.objects.filter(
        snapshot_id__in=ids, tribe=stored_tribe, squad=stored_squad, system=False
    )
    wfilter = WorkloadFilter(request.GET, queryset=base.select_related("cluster"))
    table = WorkloadTable(wfilter.qs if wfilter.is_valid() else base.none())
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    targets = target_views(
        list(Target.objects.filter(squad__name=stored_squad, tribe__name=stored_tribe))
    )
    trend, trend_rows, grain, cost = trend_chart(scope, f["start"], f["end"], targets)
    ctx = {
        "tribe": tribe,
        "squad": squad,
        "form": form,
        "f": f,
        "figures": headline(scope, f["since"]),
        "trend": trend,
        "trend_rows": trend_rows,
        "cost": cost,
        "grain": grain,
        "filter": wfilter,
        "table": table,
        "targets": targets,
        "export_query": request.GET.urlencode(),
    }
    return render(request, "adoption/squad.html", ctx)
