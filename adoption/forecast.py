"""Progress toward an OKR target: expected line, status and least-squares forecast (DESIGN §3).

Pure Python: no Django, no I/O. The read side (``progress.py``) fetches a daily series for a
target's scope and metric and hands it to :func:`progress`.

Definitions (``direction="up"``; for ``"down"`` every comparison is mirrored, i.e. "reaches"
means "falls to or below"):

- **baseline**: the value at the start date, i.e. the last point on or before ``start``; if there
  is none, the first point after ``start`` (and not after ``as_of``). An explicit ``baseline``
  argument wins.
- **actual**: the last point on or before ``as_of``.
- **expected**: the straight line from ``(start, baseline)`` to ``(due, target)`` evaluated at
  ``as_of``, with ``as_of`` clamped to ``[start, due]`` (so it is the baseline before the start
  and the target after the due date).
- **trend**: ordinary least squares of value on day number over the points of the last
  ``window_days`` calendar days ending at ``as_of`` (``as_of - window_days + 1 .. as_of``,
  inclusive); at least two distinct days are needed, otherwise there is no trend.
- **forecast_date**: the first day on or after ``as_of`` on which the trend line reaches the
  target. ``None`` ("not at this pace") when there is no trend, when the trend does not move
  towards the target (slope ≤ 0 for "up", ≥ 0 for "down"), or when that day is more than
  :data:`FORECAST_HORIZON_DAYS` (about five years) after ``as_of``. When the target is already
  met, ``forecast_date`` is ``as_of`` (not the first day it was met).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

__all__ = [
    "FORECAST_HORIZON_DAYS",
    "Progress",
    "ProgressStatus",
    "expected_at",
    "linear_fit",
    "progress",
]

#: Forecasts further out than this many days after ``as_of`` are reported as "not at this pace".
FORECAST_HORIZON_DAYS = 5 * 365 + 1

# Relative allowance for float noise in comparisons (e.g. 80.00000000000001 vs 80).
_REL_EPS = 1e-9


class ProgressStatus(StrEnum):
    """Status of a target, with the value stored/serialised and a human ``label``."""

    ON_TRACK = "on-track"
    AT_RISK = "at-risk"
    OFF_TRACK = "off-track"
    MET = "met"
    NO_DATA = "no-data"
    NOT_STARTED = "not-started"

    @property
    def label(self) -> str:
        return _LABELS[self.value]


_LABELS = {
    "on-track": "On track",
    "at-risk": "At risk",
    "off-track": "Off track",
    "met": "Met",
    "no-data": "No data",
    "not-started": "Not started",
}


@dataclass(frozen=True)
class Progress:
    """Where a target stands on ``as_of``; see the module docstring for each definition.

    ``trend_per_day`` is in the metric's units per day (raw sign: negative when falling).
    ``projected_at_due`` is the trend line evaluated at the due date. ``gap`` is
    ``target - actual`` (raw sign, so it is negative for a "down" target not yet met).
    """

    baseline: float | None
    actual: float | None
    expected: float | None
    target: float
    status: ProgressStatus
    forecast_date: date | None
    trend_per_day: float | None
    projected_at_due: float | None
    gap: float | None


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Ordinary least squares ``y = slope * x + intercept``; returns ``(slope, intercept)``.

    ``None`` when there are fewer than two distinct ``x`` values or the result is not finite
    (e.g. overflow with extreme inputs). Uses centred sums for numerical stability.
    """
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if not (math.isfinite(sxx) and sxx > 0):
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        return None
    return slope, intercept


def expected_at(day: date, *, baseline: float, target: float, start: date, due: date) -> float:
    """The planned value on ``day``: straight line from baseline (start) to target (due).

    ``day`` is clamped to ``[start, due]``. The result always lies between ``baseline`` and
    ``target`` (inclusive). A degenerate plan (``due <= start``) expects the target from the
    due date on and the baseline before it.
    """
    d, s, e = day.toordinal(), start.toordinal(), due.toordinal()
    if d >= e:
        return target
    if d <= s:
        return baseline
    f = (d - s) / (e - s)
    value = baseline * (1.0 - f) + target * f
    lo, hi = min(baseline, target), max(baseline, target)
    return min(max(value, lo), hi)


def progress(
    series: Sequence[tuple[date, float]],
    *,
    target: float,
    start: date,
    due: date,
    as_of: date,
    direction: Literal["up", "down"] = "up",
    at_risk_ratio: float = 0.9,
    window_days: int = 28,
    baseline: float | None = None,
) -> Progress:
    """Progress of ``series`` (``(day, value)`` points) toward ``target`` on ``as_of``.

    The series may be unsorted and have gaps. Points after ``as_of`` and non-finite values are
    ignored; if a day appears more than once, its last occurrence (in input order) wins.

    Status, first rule that applies (``direction="up"``; mirrored for ``"down"``)::

        not-started  as_of < start
        no-data      no usable point on or before as_of
        met          actual >= target
        off-track    as_of > due (the due date has passed and the target is not met)
        on-track     actual >= expected
        at-risk      actual >= expected - (1 - at_risk_ratio) * |target - baseline|
        off-track    otherwise

    i.e. with the default ``at_risk_ratio=0.9`` a target is "at risk" while it is behind the
    planned line by no more than 10 % of the whole planned change, and "off track" beyond that.
    Comparisons allow a relative float noise of 1e-9. ``at_risk_ratio=1`` means "behind the line
    at all is off track". Trend and forecast are computed whatever the status (also before the
    start), from the points on or before ``as_of``.

    Raises ``ValueError`` only for invalid parameters (``direction``, ``at_risk_ratio`` outside
    ``[0, 1]``, ``window_days < 1``, non-finite ``target``/``baseline``); never for the data.
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
    if not 0.0 <= at_risk_ratio <= 1.0:
        raise ValueError(f"at_risk_ratio must be within [0, 1], not {at_risk_ratio!r}")
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, not {window_days!r}")
    if not math.isfinite(target) or (baseline is not None and not math.isfinite(baseline)):
        raise ValueError("target and baseline must be finite numbers")
    target = float(target)
    sign = 1.0 if direction == "up" else -1.0
    as_of_ord, start_ord, due_ord = as_of.toordinal(), start.toordinal(), due.toordinal()

    by_day: dict[int, float] = {}
    for day, value in series:
        v = float(value)
        if math.isfinite(v) and day.toordinal() <= as_of_ord:
            by_day[day.toordinal()] = v
    points = sorted(by_day.items())

    if baseline is None:
        baseline = _baseline(points, start_ord)
    else:
        baseline = float(baseline)
    actual = points[-1][1] if points else None
    expected = (
        None
        if baseline is None
        else expected_at(as_of, baseline=baseline, target=target, start=start, due=due)
    )

    # Trend over the window, with x = days relative to as_of (0 = as_of) for stability.
    first_in_window = as_of_ord - (window_days - 1)
    fit = linear_fit([(float(d - as_of_ord), v) for d, v in points if d >= first_in_window])
    slope = intercept = None
    if fit is not None:
        slope, intercept = fit

    status = _status(
        actual=actual,
        expected=expected,
        baseline=baseline,
        target=target,
        sign=sign,
        at_risk_ratio=at_risk_ratio,
        not_started=as_of_ord < start_ord,
        past_due=as_of_ord > due_ord,
    )

    forecast_date: date | None = None
    if status is ProgressStatus.MET:
        forecast_date = as_of
    elif slope is not None and intercept is not None:
        forecast_date = _forecast(as_of_ord, slope, intercept, target, sign)

    projected_at_due: float | None = None
    if slope is not None and intercept is not None:
        projected = slope * (due_ord - as_of_ord) + intercept
        projected_at_due = projected if math.isfinite(projected) else None

    gap = None if actual is None else target - actual
    return Progress(
        baseline=baseline,
        actual=actual,
        expected=expected,
        target=target,
        status=status,
        forecast_date=forecast_date,
        trend_per_day=slope,
        projected_at_due=projected_at_due,
        gap=gap,
    )


def _baseline(points: Sequence[tuple[int, float]], start_ord: int) -> float | None:
    """Last point on or before the start; else the first point after it; else None."""
    before = [v for d, v in points if d <= start_ord]
    if before:
        return before[-1]
    return points[0][1] if points else None


def _eps(*values: float) -> float:
    scale = max([1.0, *(abs(v) for v in values if math.isfinite(v))])
    return _REL_EPS * scale


def _status(
    *,
    actual: float | None,
    expected: float | None,
    baseline: float | None,
    target: float,
    sign: float,
    at_risk_ratio: float,
    not_started: bool,
    past_due: bool,
) -> ProgressStatus:
    if not_started:
        return ProgressStatus.NOT_STARTED
    if actual is None or expected is None or baseline is None:
        return ProgressStatus.NO_DATA
    eps = _eps(actual, expected, baseline, target)
    # Oriented: for "down" the values are negated so that "more" is always "better".
    a, e = sign * actual, sign * expected
    if a >= sign * target - eps:
        return ProgressStatus.MET
    if past_due:
        return ProgressStatus.OFF_TRACK
    if a >= e - eps:
        return ProgressStatus.ON_TRACK
    tolerance = (1.0 - at_risk_ratio) * abs(target - baseline)
    if math.isnan(tolerance):  # 0 * inf with extreme inputs
        tolerance = 0.0
    if a >= e - tolerance - eps:
        return ProgressStatus.AT_RISK
    return ProgressStatus.OFF_TRACK


def _forecast(
    as_of_ord: int, slope: float, intercept: float, target: float, sign: float
) -> date | None:
    """First day >= as_of on which ``slope * x + intercept`` reaches the target (x = days)."""
    if sign * slope <= 0:
        return None
    x = (target - intercept) / slope
    if not math.isfinite(x):
        return None
    # Float noise: a crossing computed as 80.0000000001 is day 80, not 81.
    days = max(0, math.ceil(x - 1e-9))
    if days > FORECAST_HORIZON_DAYS or as_of_ord + days > date.max.toordinal():
        return None
    return date.fromordinal(as_of_ord + days)
