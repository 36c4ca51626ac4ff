"""Progress toward an OKR target: expected line, status thresholds, least-squares forecast."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoption.forecast import (
    FORECAST_HORIZON_DAYS,
    Progress,
    ProgressStatus,
    expected_at,
    linear_fit,
    progress,
)

D0 = date(2026, 1, 1)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


def line(a: float, b: float, days: range) -> list[tuple[date, float]]:
    """Points a + b * n on the given day numbers."""
    return [(d(n), a + b * n) for n in days]


# --- linear_fit -------------------------------------------------------------------------------


def test_it_fits_an_exact_line() -> None:
    fit = linear_fit([(0.0, 3.0), (1.0, 5.0), (2.0, 7.0), (5.0, 13.0)])
    assert fit == pytest.approx((2.0, 3.0))


def test_it_fits_noisy_points_by_least_squares() -> None:
    # x̄ = 1.5, ȳ = 2.75, Sxx = 5, Sxy = 5.5 → slope 1.1, intercept 2.75 - 1.1 * 1.5 = 1.1
    fit = linear_fit([(0.0, 1.0), (1.0, 3.0), (2.0, 2.0), (3.0, 5.0)])
    assert fit == pytest.approx((1.1, 1.1))


@pytest.mark.parametrize(
    "points",
    [[], [(1.0, 2.0)], [(1.0, 2.0), (1.0, 5.0)]],
    ids=["empty", "one-point", "one-distinct-x"],
)
def test_it_has_no_fit_without_two_distinct_x(points: list[tuple[float, float]]) -> None:
    assert linear_fit(points) is None


# --- expected_at ------------------------------------------------------------------------------


def test_it_expects_the_straight_line_clamped_to_start_and_due() -> None:
    kw = {"baseline": 20.0, "target": 60.0, "start": d(10), "due": d(50)}
    assert expected_at(d(0), **kw) == 20.0  # type: ignore[arg-type]
    assert expected_at(d(10), **kw) == 20.0  # type: ignore[arg-type]
    assert expected_at(d(30), **kw) == pytest.approx(40.0)  # type: ignore[arg-type]
    assert expected_at(d(50), **kw) == 60.0  # type: ignore[arg-type]
    assert expected_at(d(400), **kw) == 60.0  # type: ignore[arg-type]


def test_it_expects_the_target_from_the_due_date_of_a_degenerate_plan() -> None:
    assert expected_at(d(4), baseline=1.0, target=9.0, start=d(5), due=d(5)) == 1.0
    assert expected_at(d(5), baseline=1.0, target=9.0, start=d(5), due=d(5)) == 9.0


# --- progress: shapes of history --------------------------------------------------------------


def test_it_reports_a_flat_series_as_off_track_with_no_forecast() -> None:
    p = progress(line(50, 0, range(51)), target=80, start=d(0), due=d(100), as_of=d(50))
    assert p == Progress(
        baseline=50.0,
        actual=50.0,
        expected=65.0,
        target=80.0,
        status=ProgressStatus.OFF_TRACK,
        forecast_date=None,
        trend_per_day=0.0,
        projected_at_due=50.0,
        gap=30.0,
    )


def test_it_forecasts_the_day_a_rising_line_reaches_the_target() -> None:
    # 10 + 0.75 n: at day 40 it is 40; the plan (10 → 70 over 100 days) expects 34 by then.
    p = progress(line(10, 0.75, range(41)), target=70, start=d(0), due=d(100), as_of=d(40))
    assert p.baseline == 10.0
    assert p.actual == 40.0
    assert p.expected == pytest.approx(34.0)
    assert p.status is ProgressStatus.ON_TRACK
    assert p.trend_per_day == pytest.approx(0.75)
    assert p.forecast_date == d(80)  # 10 + 0.75 * 80 = 70
    assert p.projected_at_due == pytest.approx(85.0)
    assert p.gap == 30.0


def test_it_rounds_a_forecast_between_days_up_to_the_next_day() -> None:
    # 0 + 3 n reaches 100 at n = 33.33 → day 34 is the first day at or above the target.
    p = progress(line(0, 3, range(11)), target=100, start=d(0), due=d(60), as_of=d(10))
    assert p.forecast_date == d(34)


def test_it_has_no_forecast_for_a_falling_series_that_must_rise() -> None:
    p = progress(line(50, -0.5, range(31)), target=80, start=d(0), due=d(100), as_of=d(30))
    assert p.actual == 35.0
    assert p.trend_per_day == pytest.approx(-0.5)
    assert p.forecast_date is None
    assert p.projected_at_due == pytest.approx(0.0)
    assert p.status is ProgressStatus.OFF_TRACK


def test_it_forecasts_a_noisy_series_from_the_hand_computed_least_squares() -> None:
    series = [(d(0), 1.0), (d(1), 3.0), (d(2), 2.0), (d(3), 5.0)]
    p = progress(series, target=10, start=d(0), due=d(20), as_of=d(3))
    # Fit 1.1 n + 1.1: 4.4 on day 3; reaches 10 at n = 8.09 → day 9; at day 20: 23.1.
    assert p.trend_per_day == pytest.approx(1.1)
    assert p.forecast_date == d(9)
    assert p.projected_at_due == pytest.approx(23.1)
    assert p.expected == pytest.approx(1 + 9 * 3 / 20)
    assert p.status is ProgressStatus.ON_TRACK


def test_it_reports_a_met_target_with_the_as_of_date_as_forecast() -> None:
    p = progress(line(60, 1, range(23)), target=80, start=d(0), due=d(100), as_of=d(22))
    assert p.actual == 82.0
    assert p.status is ProgressStatus.MET
    assert p.forecast_date == d(22)
    assert p.gap == -2.0


def test_it_counts_a_target_missed_only_by_float_noise_as_met() -> None:
    p = progress(
        [(d(0), 0.0), (d(5), 79.99999999999999)], target=80, start=d(0), due=d(9), as_of=d(5)
    )
    assert p.status is ProgressStatus.MET


def test_it_fits_and_takes_the_baseline_across_gaps_in_history() -> None:
    series = line(20, 0.5, range(0, 31, 1))
    gappy = [p for p in series if p[0] in {d(0), d(3), d(10), d(24), d(30)}]
    p = progress(gappy, target=60, start=d(5), due=d(85), as_of=d(30))
    assert p.baseline == 21.5  # last point on or before the start (day 3)
    assert p.actual == 35.0
    assert p.trend_per_day == pytest.approx(0.5)  # days 3, 10, 24, 30 in the window
    assert p.forecast_date == d(80)  # 20 + 0.5 * 80 = 60


def test_it_takes_the_first_point_after_the_start_as_baseline_when_none_precedes_it() -> None:
    p = progress(line(20, 1, range(7, 15)), target=60, start=d(5), due=d(85), as_of=d(14))
    assert p.baseline == 27.0


def test_it_has_no_trend_from_a_single_point() -> None:
    p = progress([(d(0), 40.0)], target=60, start=d(0), due=d(100), as_of=d(5))
    assert p.baseline == 40.0
    assert p.actual == 40.0
    assert p.expected == pytest.approx(41.0)
    assert p.status is ProgressStatus.AT_RISK  # 40 >= 41 - 0.1 * 20
    assert (p.trend_per_day, p.forecast_date, p.projected_at_due) == (None, None, None)


def test_it_keeps_the_last_value_of_a_repeated_day_and_needs_two_distinct_days() -> None:
    p = progress([(d(3), 10.0), (d(3), 12.0)], target=60, start=d(0), due=d(100), as_of=d(3))
    assert p.actual == 12.0
    assert p.trend_per_day is None


def test_it_sorts_the_series_and_ignores_points_after_as_of_and_non_finite_values() -> None:
    series = line(10, 0.75, range(41)) + [(d(45), 1000.0), (d(41), math.nan), (d(20), math.inf)]
    random.Random(7).shuffle(series)
    p = progress(series, target=70, start=d(0), due=d(100), as_of=d(40))
    assert p.actual == 40.0
    assert p.trend_per_day == pytest.approx(0.75)
    assert p.forecast_date == d(80)


def test_it_uses_an_explicit_baseline() -> None:
    p = progress(line(30, 0, range(11)), target=70, start=d(0), due=d(40), as_of=d(10), baseline=10)
    assert p.baseline == 10.0
    assert p.expected == pytest.approx(25.0)
    assert p.status is ProgressStatus.ON_TRACK


def test_it_reports_no_data_without_points_on_or_before_as_of() -> None:
    for series in ([], [(d(20), 5.0)], [(d(1), math.nan)]):
        p = progress(series, target=70, start=d(0), due=d(40), as_of=d(10))
        assert p.status is ProgressStatus.NO_DATA
        assert (p.baseline, p.actual, p.expected, p.gap) == (None, None, None, None)
        assert (p.trend_per_day, p.forecast_date, p.projected_at_due) == (None, None, None)
    p = progress([], target=70, start=d(0), due=d(40), as_of=d(10), baseline=10)
    assert p.status is ProgressStatus.NO_DATA
    assert p.expected == pytest.approx(25.0)


def test_it_reports_not_started_before_the_start_but_still_shows_the_trend() -> None:
    series = [(d(0), 10.0), (d(1), 11.0)]
    p = progress(series, target=50, start=d(10), due=d(40), as_of=d(5))
    assert p.status is ProgressStatus.NOT_STARTED
    assert p.baseline == 11.0  # the latest value known on as_of
    assert p.expected == 11.0
    assert p.trend_per_day == pytest.approx(1.0)
    assert p.forecast_date == d(40)  # 10 + n = 50
    assert progress([], target=50, start=d(10), due=d(40), as_of=d(5)).status == "not-started"


def test_it_reports_an_unmet_target_past_its_due_date_as_off_track() -> None:
    series = line(41, 0, range(30, 61))
    kw = {"target": 42.0, "start": d(0), "due": d(40), "baseline": 10.0}
    on_due = progress(series, as_of=d(40), **kw)  # type: ignore[arg-type]
    assert on_due.expected == 42.0
    assert on_due.status is ProgressStatus.AT_RISK  # 41 >= 42 - 0.1 * 32
    late = progress(series, as_of=d(60), **kw)  # type: ignore[arg-type]
    assert late.expected == 42.0
    assert late.status is ProgressStatus.OFF_TRACK
    assert late.forecast_date is None


def test_it_reports_a_target_met_after_its_due_date_as_met() -> None:
    p = progress(line(10, 0.5, range(61)), target=40, start=d(0), due=d(40), as_of=d(60))
    assert p.status is ProgressStatus.MET
    assert p.forecast_date == d(60)


def test_it_mirrors_everything_for_a_metric_that_must_fall() -> None:
    # Proxy memory must fall from 100 to 40 between day 0 and day 60.
    kw = {"target": 40.0, "start": d(0), "due": d(60), "as_of": d(30), "direction": "down"}
    p = progress(line(100, -1, range(31)), **kw)  # type: ignore[arg-type]
    assert p.actual == 70.0
    assert p.expected == pytest.approx(70.0)
    assert p.status is ProgressStatus.ON_TRACK
    assert p.trend_per_day == pytest.approx(-1.0)
    assert p.forecast_date == d(60)
    assert p.projected_at_due == pytest.approx(40.0)
    assert p.gap == -30.0
    # Tolerance 0.1 * |40 - 100| = 6 above the line (70).
    assert progress([(d(0), 100.0), (d(30), 76.0)], **kw).status is ProgressStatus.AT_RISK  # type: ignore[arg-type]
    assert progress([(d(0), 100.0), (d(30), 76.5)], **kw).status is ProgressStatus.OFF_TRACK  # type: ignore[arg-type]
    assert progress([(d(0), 100.0), (d(30), 39.0)], **kw).status is ProgressStatus.MET  # type: ignore[arg-type]
    rising = progress(line(100, 1, range(31)), **kw)  # type: ignore[arg-type]
    assert rising.forecast_date is None


def test_it_fits_the_trend_only_over_the_last_28_days() -> None:
    old = line(1000, 0, range(0, 10))
    recent = line(0, 2, range(40, 68))
    p = progress(old + recent, target=200, start=d(0), due=d(120), as_of=d(67))
    assert p.trend_per_day == pytest.approx(2.0)  # window is days 40..67
    assert p.forecast_date == d(100)
    short = progress(old + recent[:-1], target=200, start=d(0), due=d(120), as_of=d(67))
    assert short.trend_per_day == pytest.approx(2.0)  # day 40 is the window's first day
    wide = progress(old + recent, target=200, start=d(0), due=d(120), as_of=d(67), window_days=68)
    assert wide.trend_per_day is not None and wide.trend_per_day < 0  # the old 1000s pull it down


def test_it_excludes_the_day_just_before_the_window() -> None:
    series = [(d(39), 1000.0), *line(0, 2, range(40, 68))]
    p = progress(series, target=200, start=d(0), due=d(120), as_of=d(67))
    assert p.trend_per_day == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("actual", "ratio", "status"),
    [
        (50.0, 0.9, "on-track"),
        (45.0, 0.9, "at-risk"),
        (40.0, 0.9, "at-risk"),
        (39.9, 0.9, "off-track"),
        (30.0, 0.8, "at-risk"),
        (29.9, 0.8, "off-track"),
        (49.9, 1.0, "off-track"),
        (0.0, 0.0, "at-risk"),
    ],
)
def test_it_applies_the_at_risk_tolerance_as_a_share_of_the_planned_change(
    actual: float, ratio: float, status: str
) -> None:
    # Plan 0 → 100 over 100 days: expects 50 on day 50.
    p = progress(
        [(d(0), 0.0), (d(50), actual)],
        target=100,
        start=d(0),
        due=d(100),
        as_of=d(50),
        at_risk_ratio=ratio,
    )
    assert p.status == status


def test_it_gives_up_on_forecasts_beyond_five_years() -> None:
    slow = progress(line(0, 0.01, range(29)), target=100, start=d(0), due=d(60), as_of=d(28))
    assert slow.trend_per_day == pytest.approx(0.01)
    assert slow.forecast_date is None  # ~10 000 days away
    edge = progress(line(0, 0.1, range(29)), target=100, start=d(0), due=d(60), as_of=d(28))
    assert edge.forecast_date == d(1000)
    assert FORECAST_HORIZON_DAYS == 1826


@pytest.mark.parametrize(
    "bad",
    [
        {"direction": "sideways"},
        {"at_risk_ratio": 1.5},
        {"at_risk_ratio": -0.1},
        {"window_days": 0},
        {"target": math.nan},
        {"baseline": math.inf},
    ],
)
def test_it_rejects_invalid_parameters(bad: dict[str, object]) -> None:
    kw: dict[str, object] = {"target": 10.0, "start": d(0), "due": d(10), "as_of": d(5)} | bad
    with pytest.raises(ValueError):
        progress([(d(0), 1.0)], **kw)  # type: ignore[arg-type]


def test_it_labels_statuses_for_display() -> None:
    assert str(ProgressStatus.ON_TRACK) == "on-track"
    assert ProgressStatus.ON_TRACK.label == "On track"
    assert {s.label for s in ProgressStatus} >= {"At risk", "Off track", "Met", "No data"}


# --- properties -------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
days = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@given(
    series=st.lists(st.tuples(days, finite), max_size=40),
    target=finite,
    start=days,
    due=days,
    as_of=days,
    direction=st.sampled_from(["up", "down"]),
    ratio=st.floats(min_value=0.0, max_value=1.0),
    window=st.integers(min_value=1, max_value=400),
    baseline=st.none() | finite,
)
def test_it_never_raises_for_arbitrary_finite_series(
    series: list[tuple[date, float]],
    target: float,
    start: date,
    due: date,
    as_of: date,
    direction: str,
    ratio: float,
    window: int,
    baseline: float | None,
) -> None:
    p = progress(
        series,
        target=target,
        start=start,
        due=due,
        as_of=as_of,
        direction=direction,  # type: ignore[arg-type]
        at_risk_ratio=ratio,
        window_days=window,
        baseline=baseline,
    )
    assert isinstance(p.status, ProgressStatus)
    if p.expected is not None:
        assert p.baseline is not None
        assert min(p.baseline, target) <= p.expected <= max(p.baseline, target)
    if p.forecast_date is not None:
        ahead = p.forecast_date.toordinal() - as_of.toordinal()
        assert 0 <= ahead <= FORECAST_HORIZON_DAYS
    if p.status is ProgressStatus.MET:
        assert p.forecast_date == as_of


@given(
    day=days,
    start=days,
    span=st.integers(min_value=0, max_value=5000),
    baseline=finite,
    target=finite,
)
def test_it_keeps_the_expected_value_between_baseline_and_target(
    day: date, start: date, span: int, baseline: float, target: float
) -> None:
    due = date.fromordinal(min(start.toordinal() + span, date.max.toordinal()))
    e = expected_at(day, baseline=baseline, target=target, start=start, due=due)
    assert min(baseline, target) <= e <= max(baseline, target)


@given(
    a=st.floats(min_value=-1e6, max_value=1e6),
    b=st.floats(min_value=0.01, max_value=100),
    n=st.integers(min_value=2, max_value=28),
)
def test_it_forecasts_an_exact_rising_line_to_the_analytic_day(a: float, b: float, n: int) -> None:
    as_of = d(n - 1)
    target = a + b * (n - 1) + b * 10.5  # crossed between day n + 9 and day n + 10
    p = progress(line(a, b, range(n)), target=target, start=d(0), due=d(400), as_of=as_of)
    assert p.forecast_date == as_of + timedelta(days=11)
