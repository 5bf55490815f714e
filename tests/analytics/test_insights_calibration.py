"""Calibration of the insights on synthetic teams (tests/analytics/insight_scenarios.py):
the same checks as bench/calibrate_insights.py at 40 datasets per scenario with
fixed seeds, so a change to the method that makes it find things that are not
there (or miss what is) fails here.

Goals (from the 200-dataset runs in bench/RESULTS.md): at most 5 % of independent
datasets with any correlation finding and of spike-free ones with any anomaly; lag 2
the headline of at least 80 % of planted datasets; a planted 5x developer-day found in
at least 80 %. Tolerance at 40 datasets: 40 is small, so the bounds here are one
binomial standard error wider (about 3.5 points at 5 %, 6.5 at 80 %): at most 4/40
where the goal is 5 %, at least 29/40 where it is 80 %.
"""

from __future__ import annotations

from typing import Any

import pytest

from prodlens.analytics.calendar import WorkCalendar
from prodlens.analytics.insights.analysis import analyze
from tests.analytics.insight_scenarios import NULL_SCENARIOS, PLANTED_LAG, generate

DATASETS = 40
SEEDS = range(1000, 1000 + DATASETS)
AT_MOST = 4  # of 40, where the goal is <= 5 %
AT_LEAST = 29  # of 40, where the goal is >= 80 %


def run(scenario: str, seed: int, *, spike: bool = False) -> tuple[dict[str, Any], Any]:
    dataset = generate(scenario, seed, spike=spike)
    return analyze(dataset.series, WorkCalendar(), max_lag=7), dataset.spike


@pytest.mark.parametrize("scenario", NULL_SCENARIOS)
def test_independent_series_rarely_yield_a_finding(scenario: str) -> None:
    correlated = alarmed = 0
    for seed in SEEDS:
        report, _ = run(scenario, seed)
        correlated += any(f.kind == "correlation" for f in report["findings"])
        alarmed += any(s.outliers for s in report["anomalies"].series)
    assert correlated <= AT_MOST, f"{scenario}: {correlated}/{DATASETS} with a correlation"
    assert alarmed <= AT_MOST, f"{scenario}: {alarmed}/{DATASETS} with an anomaly"


def test_a_planted_lag_two_is_the_headline() -> None:
    hits = 0
    for seed in SEEDS:
        report, _ = run("planted_lag2", seed)
        headline = report["headline"]
        hits += (
            headline is not None
            and headline.kind == "correlation"
            and (headline.evidence["metric"], headline.evidence["lag"]) == ("commits", PLANTED_LAG)
        )
    assert hits >= AT_LEAST, f"lag {PLANTED_LAG} the headline in {hits}/{DATASETS}"


@pytest.mark.parametrize("scenario", ["weekly", "ar1_weekly"])
def test_a_runaway_developer_day_is_found(scenario: str) -> None:
    hits = 0
    for seed in SEEDS:
        report, spike = run(scenario, seed, spike=True)
        hits += any(
            (outlier.developer, outlier.day) == spike
            for series in report["anomalies"].series
            for outlier in series.outliers
        )
    assert hits >= AT_LEAST, f"{scenario}: the 5x developer-day found in {hits}/{DATASETS}"
