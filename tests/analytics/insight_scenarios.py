"""Synthetic teams for calibrating the insights: daily usage and delivery shaped like
real teams' (working weeks, autocorrelated busy and quiet spells, developers with
their own rates, sparse pilots), with or without a planted relation or spike.

Shared by tests/analytics/test_insights_calibration.py (a small run with fixed
seeds) and bench/calibrate_insights.py (the full run recorded in bench/RESULTS.md).

The model, per scenario: developer i on day t makes
    events ~ Poisson(rate_i * week(t) * exp(team(t) + own(i, t)))
calls, where week(t) is the working-week profile (1 on weekdays, 0.08 on weekends;
flat in the scenarios without a weekly cycle), team(t) a shared log-scale noise
process (i.i.d. or AR(1) with phi = 0.6), own(i, t) ~ N(0, 0.25). Commits and merged
PRs follow the same week profile with their own noise process, independent of
usage unless a relation is planted (commits on day t follow the team's usage on day
t - 2). Costs are calls times a per-developer price; errors are ~2 % of calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from prodlens.analytics.insights.series import Series

Array = np.ndarray[Any, np.dtype[np.float64]]

SCENARIOS = (
    "iid",
    "weekly",
    "ar1",
    "ar1_weekly",
    "sparse",
    "planted_lag2",
)
NULL_SCENARIOS = ("iid", "weekly", "ar1", "ar1_weekly", "sparse")
PLANTED_LAG = 2
_WEEK = np.array([1.0, 1.05, 1.05, 1.0, 0.9, 0.08, 0.08])  # Monday first
_PHI = 0.6
_TEAM_SD = 0.35  # stationary sd of the team's log-scale noise
_OWN_SD = 0.25
DEVELOPERS = 8


@dataclass(frozen=True)
class Dataset:
    series: Series
    spike: tuple[str, date] | None  # the planted runaway developer-day, if any


def _noise(rng: np.random.Generator, days: int, autocorrelated: bool) -> Array:
    if not autocorrelated:
        return rng.normal(0, _TEAM_SD, days)
    shocks = rng.normal(0, _TEAM_SD * np.sqrt(1 - _PHI**2), days)
    values = np.empty(days)
    values[0] = rng.normal(0, _TEAM_SD)
    for t in range(1, days):
        values[t] = _PHI * values[t - 1] + shocks[t]
    return values


def generate(
    scenario: str,
    seed: int,
    *,
    days: int = 60,
    spike: bool = False,
    end: date = date(2026, 11, 30),
) -> Dataset:
    """One team's `days` days ending on `end`; `spike` plants one developer-day at 5x."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days - 1)
    calendar = [start + timedelta(days=offset) for offset in range(days)]
    weekly = scenario in ("weekly", "ar1_weekly", "sparse", "planted_lag2")
    autocorrelated = scenario in ("ar1", "ar1_weekly", "planted_lag2")
    week = np.array([_WEEK[day.weekday()] for day in calendar]) if weekly else np.ones(days)
    sparse = scenario == "sparse"
    team = _noise(rng, days, autocorrelated)
    rates = (
        np.full(DEVELOPERS, 0.1 / DEVELOPERS / 0.72)
        if sparse
        else rng.lognormal(np.log(12), 0.6, DEVELOPERS)
    )
    prices = rng.lognormal(np.log(0.03), 0.5, DEVELOPERS)
    own = rng.normal(0, _OWN_SD, (DEVELOPERS, days))
    means = rates[:, None] * week[None, :] * np.exp(team[None, :] + own)
    events = rng.poisson(means).astype(float)
    planted: tuple[str, date] | None = None
    if spike:
        developer = int(rng.integers(DEVELOPERS))
        working = [t for t, day in enumerate(calendar) if day.weekday() < 5]
        t = int(rng.choice(working))
        # Five times the developer's usual level for such a day (the team's day included).
        usual = rates[developer] * week[t] * np.exp(team[t])
        events[developer, t] = float(rng.poisson(5 * usual))
        planted = (f"dev-{developer}", calendar[t])
    cost = events * prices[:, None] * rng.lognormal(0, 0.1, (DEVELOPERS, days))
    errors = rng.binomial(events.astype(int), 0.02).sum(axis=0).astype(float)

    delivery_noise = _noise(rng, days, autocorrelated)
    if scenario == "planted_lag2":
        # Commits on a working day follow the team's usage two working days before.
        work = [t for t, day in enumerate(calendar) if day.weekday() < 5]
        lagged = rng.normal(0, _TEAM_SD, days)
        lagged[work[PLANTED_LAG:]] = team[work[:-PLANTED_LAG]]
        delivery_noise = 0.3 * delivery_noise + 1.2 * lagged
    commit_rate = 0.1 / 0.72 if sparse else 12.0
    commits = rng.poisson(commit_rate * week * np.exp(delivery_noise)).astype(float)
    merged_noise = _noise(rng, days, autocorrelated)
    merged = rng.poisson((0.05 if sparse else 1.5) * week * np.exp(merged_noise)).astype(float)
    names = [f"dev-{i}" for i in range(DEVELOPERS)]
    series = Series(
        days=calendar,
        activity=events.sum(axis=0).tolist(),
        commits=commits.tolist(),
        merged_prs=merged.tolist(),
        daily_cost=cost.sum(axis=0).tolist(),
        daily_errors=errors.tolist(),
        developer_events={name: events[i].tolist() for i, name in enumerate(names)},
    )
    return Dataset(series=series, spike=planted)
