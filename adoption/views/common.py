"""Helpers shared by the page views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from .. import charts, costs, metrics, progress
from ..forms import PageFilterForm
from ..models import Target
from ..review import target_progress

HEADLINE_METRICS = [
    metrics.Metric.WORKLOADS_MESHED,
    metrics.Metric.PODS_MESHED,
    metrics.Metric.NAMESPACES_ENABLED,
    metrics.Metric.RESILIENCE_TIMEOUTS,
    metrics.Metric.RESILIENCE_RETRIES,
    metrics.Metric.RESILIENCE_CIRCUIT_BREAKING,
    metrics.Metric.RESILIENCE_OUTLIER_DETECTION,
    metrics.Metric.PROXY_UP_TO_DATE,
    metrics.Metric.PROXY_CPU_REQUEST,
    metrics.Metric.PROXY_MEMORY_REQUEST,
]
TREND_METRICS = [
    metrics.Metric.WORKLOADS_MESHED,
    metrics.Metric.PODS_MESHED,
    metrics.Metric.NAMESPACES_ENABLED,
]


@dataclass(frozen=True)
class Figure:
    """A headline figure: value now, value at the comparison date, and the change."""

    key: metrics.Metric
    now: float | None
    before: float | None

    @property
    def metric(self) -> metrics.MetricDef:
        return metrics.DEFS[self.key]

    @property
    def change(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        return self.now - self.before


def page_filters(request: HttpRequest) -> tuple[PageFilterForm, dict[str, Any]]:
    form = PageFilterForm(request.GET or None)
    return form, form.values()


def headline(scope: progress.Scope, since: date) -> list[Figure]:
    now, before = progress.current(scope), progress.on_day(scope, since)
    return [Figure(m, now.value(m), before.value(m)) for m in HEADLINE_METRICS]


@dataclass
class TargetView:
    target: Target
    progress: Any  # forecast.Progress
    projection: Any = None  # capacity.Projection when asked for

    @property
    def percent_of_way(self) -> float | None:
        p = self.progress
        if p.status == "met":
            return 100.0
        if p.actual is None or p.baseline is None or p.target == p.baseline:
            return None
        share = (p.actual - p.baseline) / (p.target - p.baseline)
        return max(0.0, min(100.0, 100.0 * share))


def target_views(
    targets: list[Target], as_of: date | None = None, *, with_projection: bool = False
) -> list[TargetView]:
    as_of = as_of or timezone.now().date()
    views = [TargetView(t, target_progress(t, as_of)) for t in targets]
    if with_projection:
        for v in views:
            v.projection = costs.target_projection(v.target, v.progress.actual)
    return views


def target_lines(views: list[TargetView], metric: metrics.Metric) -> list[charts.TargetLine]:
    lines = []
    for v in views:
        if v.target.metric != metric:
            continue
        p = v.progress
        lines.append(
            charts.TargetLine(
                label=f"{v.target.metric_label} {v.target.value:g} by {v.target.due}",
                start=v.target.start,
                baseline=p.baseline,
                due=v.target.due,
                value=v.target.value,
                as_of=timezone.now().date(),
                actual=p.actual,
                forecast_date=p.forecast_date,
            )
        )
    return lines


def trend_chart(
    scope: progress.Scope, start: date, end: date, targets: list[TargetView]
) -> tuple[dict[str, Any], list[tuple[Any, list[float | None]]], str, dict[str, Any]]:
    """The adoption-over-time chart, its numbers as table rows, its grain, and the mesh-cost
    chart drawn from the same points."""
    grain, points = progress.series(scope, start, end)
    cost = charts.metric_lines(
        {
            metrics.DEFS[m].label + f" ({metrics.DEFS[m].unit})": [
                (p.at, p.value(m)) for p in points
            ]
            for m in (metrics.Metric.PROXY_CPU_REQUEST, metrics.Metric.PROXY_MEMORY_REQUEST)
        },
        unit="requested by istio-proxy containers",
    )
    lines = {metrics.DEFS[m].label: [(p.at, p.value(m)) for p in points] for m in TREND_METRICS}
    tlines = [line for m in TREND_METRICS for line in target_lines(targets, m)]
    rows = [(p.at, [p.value(m) for m in TREND_METRICS]) for p in points]
    return charts.metric_lines(lines, targets=tlines), rows, grain, cost
