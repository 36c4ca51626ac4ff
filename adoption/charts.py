"""Plotly figures as plain JSON-ready dicts (drawn by static/adoption/charts.js).

The figures follow plotly.js's schema; they are built as dicts rather than through
``plotly.graph_objects`` because the objects' validation and deep copies cost ~0.2 s per figure
per request (see benchmarks/bench_pages.py). tests/test_charts.py feeds every figure through
``plotly.graph_objects.Figure``, which validates each property, so a bad attribute still fails
a test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from plotly.colors import qualitative

# Colour-blind-safe palette (Paul Tol / plotly "Safe"); status is never shown by colour alone.
PALETTE = qualitative.Safe
# Marker shapes so lines differ by more than colour.
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "cross", "pentagon"]

CONFIG = {"displaylogo": False, "responsive": True}


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "layout": layout, "config": CONFIG}


def _layout(
    *, y_title: str, y_range: list[float] | None = None, height: int = 380
) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 55, "r": 20, "t": 10, "b": 40},
        "yaxis": {"title": {"text": y_title}},
        "legend": {"orientation": "h", "y": -0.22},
        "height": height,
        "hovermode": "x unified",
    }
    if y_range is not None:
        layout["yaxis"]["range"] = y_range
    return layout


def pod_share_over_time(points: Iterable[tuple[datetime, str, int, int]]) -> dict[str, Any]:
    """Share of pods with an Istio proxy over time, one line per series.

    ``points`` are (time, series name, pods meshed, pods total), ordered by time.
    """
    series: dict[str, tuple[list[str], list[float]]] = defaultdict(lambda: ([], []))
    for at, name, meshed, total in points:
        if not total:
            continue
        xs, ys = series[name]
        xs.append(at.isoformat())
        ys.append(round(100.0 * meshed / total, 1))
    data = [
        {
            "type": "scatter",
            "x": xs,
            "y": ys,
            "name": name,
            "mode": "lines+markers",
            "line": {"color": PALETTE[i % len(PALETTE)]},
            "marker": {"symbol": SYMBOLS[i % len(SYMBOLS)]},
            "hovertemplate": "%{y:.1f}% of pods<extra>" + name + "</extra>",
        }
        for i, (name, (xs, ys)) in enumerate(sorted(series.items()))
    ]
    layout = _layout(y_title="pods with an Istio proxy (%)", y_range=[0, 100], height=420)
    layout["yaxis"]["ticksuffix"] = "%"
    layout["xaxis"] = {"title": {"text": "time (UTC)"}}
    return _figure(data, layout)


@dataclass(frozen=True)
class TargetLine:
    """A target drawn as the straight line from baseline to target, plus the forecast."""

    label: str
    start: date
    baseline: float | None
    due: date
    value: float
    as_of: date
    actual: float | None
    forecast_date: date | None


def metric_lines(
    lines: dict[str, list[tuple[Any, float | None]]],
    *,
    unit: str = "%",
    targets: list[TargetLine] | None = None,
) -> dict[str, Any]:
    """Metrics over time (one line each) with every target as a dashed line and its forecast."""
    data: list[dict[str, Any]] = []
    for i, (label, points) in enumerate(lines.items()):
        data.append(
            {
                "type": "scatter",
                "x": [p[0].isoformat() for p in points],
                "y": [None if p[1] is None else round(p[1], 1) for p in points],
                "name": label,
                "mode": "lines+markers",
                "marker": {"size": 4, "symbol": SYMBOLS[i % len(SYMBOLS)]},
                "line": {"color": PALETTE[i % len(PALETTE)]},
                "connectgaps": False,
            }
        )
    for j, t in enumerate(targets or []):
        colour = PALETTE[(len(lines) + j) % len(PALETTE)]
        if t.baseline is not None:
            data.append(
                {
                    "type": "scatter",
                    "x": [t.start.isoformat(), t.due.isoformat()],
                    "y": [round(t.baseline, 1), t.value],
                    "name": f"target: {t.label}",
                    "mode": "lines+markers",
                    "line": {"dash": "dash", "color": colour},
                    "marker": {"symbol": "diamond", "size": 8},
                }
            )
        if t.forecast_date is not None and t.actual is not None:
            data.append(
                {
                    "type": "scatter",
                    "x": [t.as_of.isoformat(), t.forecast_date.isoformat()],
                    "y": [round(t.actual, 1), t.value],
                    "name": f"forecast: {t.label}",
                    "mode": "lines",
                    "line": {"dash": "dot", "color": colour},
                }
            )
    return _figure(data, _layout(y_title=unit, y_range=[0, 100] if unit == "%" else None))


def bars_with_targets(
    rows: list[tuple[str, float | None, float | None, str]], *, metric_label: str, unit: str = "%"
) -> dict[str, Any]:
    """Actual per group (bars) with its target as a marker; status written on each bar."""
    names = [r[0] for r in rows]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "x": names,
            "y": [None if r[1] is None else round(r[1], 1) for r in rows],
            "name": f"{metric_label} now",
            "marker": {"color": PALETTE[0]},
            "text": [r[3] for r in rows],
            "textposition": "outside",
        }
    ]
    if any(r[2] is not None for r in rows):
        data.append(
            {
                "type": "scatter",
                "x": names,
                "y": [r[2] for r in rows],
                "name": "target",
                "mode": "markers",
                "marker": {
                    "symbol": "line-ew-open",
                    "size": 28,
                    "line": {"width": 3, "color": PALETTE[1]},
                },
            }
        )
    layout = _layout(y_title=unit, y_range=[0, 110] if unit == "%" else None, height=340)
    return _figure(data, layout)


def version_bars(counts: dict[str, int], control_planes: dict[str, str]) -> dict[str, Any]:
    """Meshed workloads per proxy version; the control-plane versions named on the axis."""
    versions = sorted(counts)
    cp = ", ".join(f"{rev}: {ver}" for rev, ver in sorted(control_planes.items())) or "none seen"
    layout = _layout(y_title="meshed workloads", height=300)
    layout["xaxis"] = {"title": {"text": f"proxy version (control plane {cp})"}, "type": "category"}
    data = [
        {
            "type": "bar",
            "x": versions,
            "y": [counts[v] for v in versions],
            "marker": {"color": PALETTE[2]},
            "name": "workloads",
        }
    ]
    return _figure(data, layout)
