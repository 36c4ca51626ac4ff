"""Formatting for figures: one place decides how a metric value reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template

from ..metrics import MetricDef

register = template.Library()


@register.filter
def metric(value: float | None, d: MetricDef) -> str:
    if value is None:
        return "—"
    if d.is_percentage:
        return f"{value:.1f} %"
    return f"{value:,.1f} {d.unit}"


@register.filter
def signed(value: float | None, d: MetricDef) -> str:
    if value is None:
        return "—"
    unit = " pp" if d.is_percentage else f" {d.unit}"
    arrow = "▲" if value > 0 else "▼" if value < 0 else "="
    return f"{arrow} {value:+.1f}{unit}"


@register.filter
def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


@register.filter
def num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


@register.filter
def isoformat(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


@register.filter
def cores(millicores: int | None) -> str:
    return "—" if millicores is None else f"{millicores / 1000:,.1f} cores"


@register.filter
def mib(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**20:,.0f} MiB"


@register.simple_tag
def trend_caption(figures: list[Any], targets: list[Any], since: date) -> str:
    """One sentence with the takeaway: where workloads meshed stands and against which target."""
    now = next((f for f in figures if f.metric.key == "workloads_meshed"), None)
    if now is None or now.now is None:
        return "No poll has succeeded yet: the chart fills in as polls arrive"
    text = f"{now.now:.1f} % of workloads are meshed"
    if now.change is not None:
        text += f" ({now.change:+.1f} pp since {since:%Y-%m-%d})"
    wm = [t for t in targets if t.target.metric == "workloads_meshed"]
    if wm:
        t = wm[0]
        status = t.progress.status.label.lower()
        text += f"; target {t.target.value:g} % by {t.target.due:%Y-%m-%d}, {status}"
    return text


@register.simple_tag
def bars_caption(rows: list[tuple[str, float | None, float | None, str]]) -> str:
    known = [(name, actual) for name, actual, _, _ in rows if actual is not None]
    if not known:
        return "No figures yet."
    best = max(known, key=lambda r: r[1])
    worst = min(known, key=lambda r: r[1])
    behind = sum(1 for r in rows if r[3] in ("Off track", "At risk"))
    text = f"Highest: {best[0]} at {best[1]:.1f} %; lowest: {worst[0]} at {worst[1]:.1f} %"
    if behind:
        text += f"; {behind} at risk or off track"
    return text + "."
