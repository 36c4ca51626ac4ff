"""Plotly figures, built in Python and handed to the page as JSON (drawn by static/charts.js)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

# Colour-blind-safe palette (Paul Tol / plotly "Safe"); status is never shown by colour alone.
PALETTE = qualitative.Safe

CONFIG = {"displaylogo": False, "responsive": True}


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
    fig = go.Figure()
    for i, (name, (xs, ys)) in enumerate(sorted(series.items())):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=name,
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
                hovertemplate="%{y:.1f}% of pods<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(
        margin={"l": 50, "r": 20, "t": 20, "b": 40},
        yaxis={
            "title": {"text": "pods with an Istio proxy (%)"},
            "range": [0, 100],
            "ticksuffix": "%",
        },
        xaxis={"title": {"text": "time (UTC)"}},
        legend={"orientation": "h", "y": -0.2},
        height=420,
    )
    spec = fig.to_plotly_json()
    return {"data": spec["data"], "layout": spec["layout"], "config": CONFIG}
