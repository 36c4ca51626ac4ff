"""Every figure is valid plotly: plotly.graph_objects validates each property it is given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import plotly.graph_objects as go

from adoption import charts


def _valid(spec: dict) -> go.Figure:  # type: ignore[type-arg]
    assert spec["config"]["displaylogo"] is False
    return go.Figure(data=spec["data"], layout=spec["layout"])  # raises on a bad property


def test_it_draws_targets_and_forecasts_as_lines() -> None:
    d0 = date(2026, 1, 1)
    target = charts.TargetLine(
        "80 % by March", d0, 40.0, date(2026, 3, 1), 80.0, date(2026, 2, 1), 55.0, date(2026, 4, 1)
    )
    spec = charts.metric_lines(
        {"Workloads meshed": [(d0 + timedelta(days=i), 40.0 + i) for i in range(5)]},
        targets=[target],
    )
    fig = _valid(spec)
    names = [t.name for t in fig.data]
    assert names == ["Workloads meshed", "target: 80 % by March", "forecast: 80 % by March"]
    assert fig.data[1].y == (40.0, 80.0) and fig.data[1].line.dash == "dash"
    assert fig.data[2].x == ("2026-02-01", "2026-04-01") and fig.data[2].line.dash == "dot"
    assert fig.layout.yaxis.range == (0, 100)


def test_it_draws_bars_pod_share_and_versions_validly() -> None:
    _valid(
        charts.bars_with_targets(
            [("payments", 50.0, 80.0, "At risk"), ("data", None, None, "no target")],
            metric_label="Workloads meshed",
        )
    )
    now = datetime(2026, 6, 1, tzinfo=UTC)
    fig = _valid(charts.pod_share_over_time([(now, "a", 1, 2), (now, "b", 0, 0)]))
    assert [t.name for t in fig.data] == ["a"] and fig.data[0].y == (50.0,)
    _valid(charts.version_bars({"1.27.1": 3, "1.26.3": 1}, {"default": "1.27.1"}))
