"""Unusual days and developer-days: spikes in usage, cost and errors.

Each point is compared with a baseline that knows the calendar, and the threshold
accounts for how many points are looked at (docs/metrics.md says the same in words):

- Project days: a working day's events and cost against the other days of its
  weekday; a day off against a usual working day (who happens to work on a weekend
  varies too much to be a baseline). Errors: the day's error rate against all other
  days' (binomial: an incident shows as many failures among the day's calls).
- Developer-days, on working days: a developer's events against their usual level
  scaled by how busy the rest of the team was that day, so a day when everyone was
  busy is no one's spike. Only the span from a developer's first to last active day
  counts (joining mid-window is not a spike).
- Counts use a Poisson-lognormal tail: Poisson counts whose rate varies from day to
  day by a log-normal factor, its spread estimated robustly (MAD) from the series'
  busier non-zero points, so a sparse series is judged as counts, not by a median
  absolute deviation of zeros. Costs use a robust z of log(cost), Student-t tail.
- A point is flagged when its one-sided p-value is below alpha / m, m the number of
  points the whole report examines (Bonferroni: at most alpha chance of any false
  alarm per report), and it is practically large: at least MIN_RATIO times its
  baseline and, for counts and errors, at least MIN_EXCESS above it.

Only unusually high values are flagged: they are what costs money or signals an
incident; a quiet day is rarely a problem.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from scipy import stats

from prodlens.analytics.schemas import (
    MIN_ACTIVE_DAYS,
    AnalysisStatus,
    AnomalyMethod,
    AnomalyScope,
    AnomalySeriesName,
)

Array = np.ndarray[Any, Any]

MIN_EXCESS = 5.0  # counts: a flagged point is at least this many above its baseline
MIN_RATIO = 3.0  # a flagged point is at least this many times its baseline
_MAD_TO_SD = 1.4826
_TEAM_PRIOR = 10.0  # calls: damps the team-day factor when the rest of the team is quiet
# Spread estimates from a few dozen days run low; widened by this, calibrated with
# bench/calibrate_insights.py (false alarms <= 5 % on spike-free teams).
_MARGIN = 1.1
_BUSY = 5.0  # expected counts from which the log-normal part of the variation shows


@dataclass(frozen=True)
class Point:
    """One examined value: its day, developer (or None), baseline and p-value."""

    day: date
    developer: str | None
    value: float
    expected: float
    p: float
    detail: dict[str, float] = field(default_factory=dict)


@dataclass
class SeriesResult:
    name: AnomalySeriesName
    scope: AnomalyScope
    method: AnomalyMethod
    status: AnalysisStatus = "ok"
    points: list[Point] = field(default_factory=list)
    spread: float | None = None  # sd of the day-to-day variation on the log scale


def _groups(days: Sequence[date], working: Array) -> Array:
    """The kind of each day: its weekday on working days, 7 for a day off."""
    return np.array([day.weekday() if on else 7 for day, on in zip(days, working, strict=True)])


def _leave_one_out_mean(values: Array, groups: Array, mask: Array) -> Array:
    expected = np.full(len(values), np.nan)
    for group in np.unique(groups[mask]):
        members = mask & (groups == group)
        count = np.count_nonzero(members)
        if count >= 3:
            total = values[members].sum()
            expected[members] = (total - values[members]) / (count - 1)
    return expected


def _log_spread(values: Array, expected: Array) -> float:
    """The sd of the day-to-day multiplicative variation around the baselines, beyond
    Poisson noise: robust (MAD) over all points, so a spike cannot widen it."""
    # A zero among busy days is a day off the calendar does not know of (leave,
    # sickness), not variation of the rate: the spread is estimated without zeros.
    ok = np.isfinite(expected) & (expected > 0) & (values > 0)
    # Where counts are small, Poisson noise dominates and the log ratio is far from
    # normal: estimate the spread from the busier points when there are enough.
    busy = ok & (expected >= _BUSY)
    if np.count_nonzero(busy) >= MIN_ACTIVE_DAYS:
        ok = busy
    if np.count_nonzero(ok) < 5:
        return 0.0
    deviation = np.log((values[ok] + 0.5) / (expected[ok] + 0.5))
    spread = _MAD_TO_SD * float(np.median(np.abs(deviation - np.median(deviation))))
    poisson = float(np.median(1 / (expected[ok] + 0.5)))  # log-scale variance of the counts
    return _MARGIN * math.sqrt(max(spread**2 - poisson, 0.0))


_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(48)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _count_tail(value: float, expected: float, spread: float) -> float:
    """P(X >= value) for Poisson counts whose mean varies log-normally (sd `spread` on
    the log scale) around `expected`: a Poisson-lognormal, by Gauss-Hermite quadrature."""
    if expected <= 0:
        return 0.0 if value > 0 else 1.0
    if spread <= 1e-9:
        return float(stats.poisson.sf(value - 1, expected))
    means = expected * np.exp(spread * _NODES - spread**2 / 2)
    return float(_WEIGHTS @ stats.poisson.sf(value - 1, means))


def _count_points(
    values: Array, expected: Array, days: Sequence[date], developer: str | None, spread: float
) -> list[Point]:
    return [
        Point(
            days[t],
            developer,
            float(values[t]),
            float(expected[t]),
            _count_tail(float(values[t]), float(expected[t]), spread),
        )
        for t in map(int, np.flatnonzero(np.isfinite(expected)))
    ]


def day_counts(
    name: AnomalySeriesName, values: Sequence[float], days: Sequence[date], working: Array
) -> SeriesResult:
    x = np.asarray(values, dtype=float)
    result = SeriesResult(name, "day", "poisson_lognormal")
    if np.count_nonzero(x[working] > 0) < MIN_ACTIVE_DAYS:
        result.status = "insufficient_data"
        return result
    # Working days against the other days of their weekday; a day off against a usual
    # working day: who happens to work on a weekend varies too much to be a baseline,
    # and a day off is worth a look only when it would be unusual even as a working day.
    expected = _leave_one_out_mean(x, _groups(days, working), working)
    expected[~working] = x[working].mean()
    result.spread = _log_spread(x, np.where(working, expected, np.nan))
    result.points = _count_points(x, expected, days, None, result.spread)
    return result


def developer_counts(
    name: AnomalySeriesName,
    by_developer: Mapping[str, Sequence[float]],
    days: Sequence[date],
    working: Array,
) -> SeriesResult:
    """Each developer's days against their usual share of the rest of the team."""
    result = SeriesResult(name, "developer_day", "poisson_lognormal")
    matrix = {dev: np.asarray(v, dtype=float) for dev, v in by_developer.items()}
    if not matrix:
        result.status = "insufficient_data"
        return result
    total = np.sum(list(matrix.values()), axis=0)
    baselines: list[tuple[str, Array, Array]] = []
    for developer, x in matrix.items():
        if np.count_nonzero(x[working] > 0) < MIN_ACTIVE_DAYS:
            continue
        # The developer's working days from their first to their last active day.
        active = np.flatnonzero(x > 0)
        members = np.zeros(len(x), dtype=bool)
        members[active[0] : active[-1] + 1] = True
        members &= working
        others = total - x
        count = np.count_nonzero(members) - 1
        own_mean = (x[members].sum() - x[members]) / count  # leave-one-out
        others_mean = (others[members].sum() - others[members]) / count
        expected = np.full(len(x), np.nan)
        # The team's day scales the developer's usual level (a day when everyone is busy
        # is no one's spike), damped by _TEAM_PRIOR calls so a near-empty team adds no noise.
        expected[members] = own_mean * (others[members] + _TEAM_PRIOR) / (others_mean + _TEAM_PRIOR)
        baselines.append((developer, x, expected))
    if not baselines:
        result.status = "insufficient_data"
        return result
    result.spread = _log_spread(
        np.concatenate([x for _, x, _ in baselines]),
        np.concatenate([e for _, _, e in baselines]),
    )
    for developer, x, expected in baselines:
        result.points += _count_points(x, expected, days, developer, result.spread)
    return result


def _log_points(
    series: list[tuple[str | None, Array, Array]], days: Sequence[date]
) -> tuple[list[Point], float | None]:
    """Robust z of log(value) against the median of the other positive days of its group
    (leave-one-out, so a spike does not pull its own baseline), scale pooled over all
    points; Student-t tail, since the scale is itself estimated."""
    residuals: list[tuple[str | None, float, int, float, float]] = []
    for developer, x, groups in series:
        positive = x > 0
        logs = np.log(np.where(positive, x, 1.0))
        for group in np.unique(groups[positive & (groups >= 0)]):
            members = np.flatnonzero(positive & (groups == group))
            if len(members) < 4:
                continue
            for t in members:
                centre = float(np.median(logs[members[members != t]]))
                residuals.append((developer, float(x[t]), int(t), float(logs[t] - centre), centre))
    if len(residuals) < MIN_ACTIVE_DAYS:
        return [], None
    scale = _MARGIN * _MAD_TO_SD * float(np.median(np.abs([r[3] for r in residuals])))
    if scale <= 0:
        return [], None
    df = max(len(residuals) - len(series), 3)
    points = [
        Point(
            days[t],
            developer,
            value,
            math.exp(centre),
            float(stats.t.sf(residual / scale, df)),
            {"z": residual / scale},
        )
        for developer, value, t, residual, centre in residuals
    ]
    return points, scale


def day_cost(values: Sequence[float], days: Sequence[date], working: Array) -> SeriesResult:
    x = np.asarray(values, dtype=float)
    result = SeriesResult("daily_cost_usd", "day", "log_robust_z")
    if np.count_nonzero(x[working] > 0) < MIN_ACTIVE_DAYS:
        result.status = "insufficient_data"
        return result
    groups = np.where(working, _groups(days, working), -1)  # days off: see below
    result.points, result.spread = _log_points([(None, x, groups)], days)
    if result.spread is None:
        result.status = "insufficient_data"
        return result
    # A day off against a usual working day, as for events.
    centre = float(np.median(np.log(x[working & (x > 0)])))
    df = max(len(result.points) - 1, 3)
    for t in map(int, np.flatnonzero(~working & (x > 0))):
        z = (math.log(x[t]) - centre) / result.spread
        result.points.append(
            Point(days[t], None, float(x[t]), math.exp(centre), float(stats.t.sf(z, df)), {"z": z})
        )
    result.points.sort(key=lambda point: point.day)
    return result


def day_errors(
    errors: Sequence[float], events: Sequence[float], days: Sequence[date], working: Array
) -> SeriesResult:
    """Each day's failures among its calls against the error rate of all other days."""
    e = np.asarray(errors, dtype=float)
    n = np.asarray(events, dtype=float)
    result = SeriesResult("daily_error_rate", "day", "binomial")
    if np.count_nonzero(n[working] > 0) < MIN_ACTIVE_DAYS:
        result.status = "insufficient_data"
        return result
    for t in map(int, np.flatnonzero(n > 0)):
        others_calls = n.sum() - n[t]
        rate = (e.sum() - e[t]) / others_calls if others_calls > 0 else 0.0
        p = float(stats.binom.sf(e[t] - 1, int(n[t]), rate)) if rate > 0 else float(e[t] == 0)
        result.points.append(
            Point(
                days[t],
                None,
                float(e[t] / n[t]),
                float(rate),
                p,
                {"errors": float(e[t]), "calls": float(n[t])},
            )
        )
    return result


def flagged(point: Point, series: SeriesResult, threshold: float) -> bool:
    """Significant after the report's correction, and practically large."""
    if point.p >= threshold or point.value < MIN_RATIO * point.expected:
        return False
    if series.method == "poisson_lognormal":
        return point.value - point.expected >= MIN_EXCESS
    if series.method == "binomial":
        return point.detail.get("errors", 0.0) >= MIN_EXCESS
    return True
