"""Insights: lagged correlation of AI activity with delivery, anomalies, findings.

The series are read from the daily rollups, commits and pull requests (all
O(days) or O(delivery items)); the statistics are plain functions of those
series (`analyze`) that the route runs in a worker thread, because SciPy is
CPU-bound and must not stall the event loop.

Method:
- Daily series over every UTC day of the window, zero-filled: a day with no
  events is an observation of zero activity, not a missing value.
- At lag L, activity on day t is paired with delivery on day t+L (activity
  leads delivery), so n = days - L pairs. Pearson and Spearman r with
  two-sided p-values; Benjamini-Hochberg q-values across the lags of one
  delivery metric and method. A lag is significant when its Spearman q < alpha
  (rank correlation: robust to the heavy-tailed counts of usage data).
- Anomalies: robust z = 0.6745 (x - median) / MAD. When the MAD is 0 (over
  half the values equal, as in a sparse zero-filled series) the modified
  z-score falls back to the mean absolute deviation: (x - median) /
  (1.253314 * MeanAD), so a lone spike among idle days is still caught.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, Literal

import anyio
import numpy as np
from scipy import stats
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.models import Commit, DailyRollup, PullRequest
from prodlens.analytics.schemas import (
    ALPHA,
    MIN_POINTS,
    Anomalies,
    AnomalySeries,
    Correlation,
    Finding,
    InsightsReport,
    LagResult,
    MetricCorrelation,
    Outlier,
    Recommendation,
)
from prodlens.analytics.schemas import AnalysisStatus as Status
from prodlens.analytics.window import (
    Window,
    as_date,
    daily_rollup_sums,
    daily_series,
    day_of,
    zero_filled,
)

DEFAULT_MAX_LAG = 7
DEFAULT_THRESHOLD = 3.5
# 0.6745 is the 0.75 quantile of the standard normal: it makes MAD comparable to a
# standard deviation; 1.253314 (sqrt(pi/2)) does the same for the mean absolute deviation.
_MAD_SCALE = 0.6745
_MEANAD_SCALE = 1.253314

_LAG_WORDS = {
    0: "the same day",
    1: "one day later",
    2: "two days later",
    3: "three days later",
    4: "four days later",
    5: "five days later",
    6: "six days later",
    7: "seven days later",
}
# Spelled by name: ruff flags the literal letter as a look-alike of "p".
_RHO = "\N{GREEK SMALL LETTER RHO}"
_METRIC_WORDS = {"commits": "commits", "merged_prs": "merged PRs"}


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    days: list[date]
    activity: list[float]  # events per day
    commits: list[float]
    merged_prs: list[float]
    daily_cost: list[float]
    developer_cost: dict[str, float]


async def _count_by_day(
    session: AsyncSession, column: Any, project_id: str, window: Window, *conditions: Any
) -> dict[date, float]:
    day = day_of(column, session.get_bind().dialect.name)
    rows = await session.execute(
        select(day, func.count())
        .where(
            column.class_.project_id == project_id,
            column >= window.day_start,
            column < window.day_end,
            *conditions,
        )
        .group_by(day)
    )
    return {as_date(value): float(count) for value, count in rows}


async def load_series(session: AsyncSession, project_id: str, window: Window) -> Series:
    days = window.days
    sums = await daily_rollup_sums(session, project_id, window, columns=("events", "cost_usd"))
    commits = await _count_by_day(session, Commit.committed_at, project_id, window)
    merged = await _count_by_day(
        session, PullRequest.merged_at, project_id, window, PullRequest.merged_at.is_not(None)
    )
    developer_rows = await session.execute(
        select(DailyRollup.developer_id, func.sum(DailyRollup.cost_usd))
        .where(
            DailyRollup.project_id == project_id,
            DailyRollup.period_start >= window.day_start,
            DailyRollup.period_start < window.day_end,
            DailyRollup.developer_id != "",
        )
        .group_by(DailyRollup.developer_id)
    )
    return Series(
        days=days,
        activity=daily_series(days, sums, "events"),
        commits=zero_filled(days, commits),
        merged_prs=zero_filled(days, merged),
        daily_cost=daily_series(days, sums, "cost_usd"),
        developer_cost={developer: float(cost or 0) for developer, cost in developer_rows},
    )


# --- statistics (pure, run in a thread) ----------------------------------------------------


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _lag_result(
    activity: np.ndarray[Any, Any], delivery: np.ndarray[Any, Any], lag: int
) -> LagResult:
    x = activity[: len(activity) - lag]
    y = delivery[lag:]
    n = len(x)
    if n < MIN_POINTS:
        return LagResult(
            lag=lag,
            n=n,
            status="insufficient_data",
            pearson=Correlation(r=None, p=None, q=None),
            spearman=Correlation(r=None, p=None, q=None),
            significant=False,
        )
    # A constant series has no correlation to speak of (SciPy would warn and answer NaN).
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return LagResult(
            lag=lag,
            n=n,
            status="constant_input",
            pearson=Correlation(r=None, p=None, q=None),
            spearman=Correlation(r=None, p=None, q=None),
            significant=False,
        )
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    return LagResult(
        lag=lag,
        n=n,
        status="ok",
        pearson=Correlation(r=_finite(pearson.statistic), p=_finite(pearson.pvalue), q=None),
        spearman=Correlation(r=_finite(spearman.statistic), p=_finite(spearman.pvalue), q=None),
        significant=False,
    )


def _adjust(results: list[LagResult], method: Literal["pearson", "spearman"]) -> None:
    """Benjamini-Hochberg across the lags that have a p-value."""
    tested = [r for r in results if getattr(r, method).p is not None]
    if not tested:
        return
    pvalues = np.array([getattr(r, method).p for r in tested], dtype=float)
    qvalues = stats.false_discovery_control(pvalues, method="bh")
    for result, q in zip(tested, qvalues, strict=True):
        getattr(result, method).q = float(q)


def correlate(
    metric: Literal["commits", "merged_prs"],
    activity: Sequence[float],
    delivery: Sequence[float],
    max_lag: int,
) -> MetricCorrelation:
    x = np.asarray(activity, dtype=float)
    y = np.asarray(delivery, dtype=float)
    lags = [_lag_result(x, y, lag) for lag in range(max_lag + 1)]
    _adjust(lags, "pearson")
    _adjust(lags, "spearman")
    for result in lags:
        q = result.spearman.q
        result.significant = q is not None and q < ALPHA
    significant = [r for r in lags if r.significant]
    best = min(
        significant,
        key=lambda r: (r.spearman.q or 0.0, -abs(r.spearman.r or 0.0), r.lag),
        default=None,
    )
    statuses = {r.status for r in lags}
    status: Status = "constant_input"
    if "ok" in statuses:
        status = "ok"
    elif statuses == {"insufficient_data"}:
        status = "insufficient_data"
    return MetricCorrelation(
        metric=metric,
        status=status,
        total=int(y.sum()),
        lags=lags,
        best_lag=best.lag if best else None,
    )


def robust_z(
    name: Literal["daily_cost_usd", "daily_events", "developer_cost_usd"],
    scope: Literal["day", "developer"],
    values: dict[str, float],
    threshold: float,
) -> AnomalySeries:
    keys = list(values)
    x = np.asarray([values[key] for key in keys], dtype=float)
    if len(x) < MIN_POINTS:
        return AnomalySeries(
            name=name,
            scope=scope,
            status="insufficient_data",
            n=len(x),
            median=None,
            mad=None,
            method=None,
            outliers=[],
        )
    median = float(np.median(x))
    mad = float(stats.median_abs_deviation(x))
    deviation = x - median
    if mad > 0:
        z = _MAD_SCALE * deviation / mad
        method: Literal["mad", "meanad"] = "mad"
    else:
        mean_ad = float(np.mean(np.abs(deviation)))
        if mean_ad == 0:  # every value the same: nothing stands out
            return AnomalySeries(
                name=name,
                scope=scope,
                status="constant_input",
                n=len(x),
                median=median,
                mad=mad,
                method=None,
                outliers=[],
            )
        z = deviation / (_MEANAD_SCALE * mean_ad)
        method = "meanad"
    outliers = [
        Outlier(key=key, value=float(value), z=float(score))
        for key, value, score in zip(keys, x, z, strict=True)
        if abs(score) > threshold
    ]
    outliers.sort(key=lambda outlier: -abs(outlier.z))
    return AnomalySeries(
        name=name,
        scope=scope,
        status="ok",
        n=len(x),
        median=median,
        mad=mad,
        method=method,
        outliers=outliers,
    )


def _q(value: float | None) -> str:
    """A p or q value as `q=0.012` or `q<0.001`."""
    if value is None:
        return "=n/a"
    return "<0.001" if value < 0.001 else f"={value:.2g}"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _correlation_findings(
    correlation: MetricCorrelation, days: int
) -> tuple[list[Finding], list[Recommendation]]:
    words = _METRIC_WORDS[correlation.metric]
    findings: list[Finding] = []
    recommendations: list[Recommendation] = []
    if correlation.status != "ok":
        findings.append(
            Finding(
                kind="insufficient_data",
                message=(
                    f"Not enough data to correlate AI activity with {words}: {days} day(s) in "
                    f"the window, {MIN_POINTS} needed"
                    + (" with varying values on both sides" if days >= MIN_POINTS else "")
                    + f" ({correlation.total} {words} in the window)."
                ),
                evidence={"metric": correlation.metric, "days": days, "total": correlation.total},
            )
        )
        return findings, recommendations
    best = next((r for r in correlation.lags if r.lag == correlation.best_lag), None)
    if best is None:
        tested = [r for r in correlation.lags if r.spearman.q is not None]
        smallest = min(tested, key=lambda r: r.spearman.q if r.spearman.q is not None else 1)
        findings.append(
            Finding(
                kind="no_correlation",
                message=(
                    f"No significant correlation between AI activity and {words} at lags "
                    f"0-{correlation.lags[-1].lag} after Benjamini-Hochberg (smallest "
                    f"q{_q(smallest.spearman.q)} at lag {smallest.lag}, "
                    f"Spearman {_RHO}={_fmt(smallest.spearman.r)}, n={smallest.n})."
                ),
                evidence={
                    "metric": correlation.metric,
                    "lag": smallest.lag,
                    "spearman_r": smallest.spearman.r,
                    "q": smallest.spearman.q,
                    "n": smallest.n,
                },
            )
        )
        return findings, recommendations
    rho = best.spearman.r or 0.0
    lag_words = _LAG_WORDS.get(best.lag, f"{best.lag} days later")
    relation = "correlates with" if rho > 0 else "is inversely correlated with"
    cited = f"Spearman {_RHO}={_fmt(rho)}, q{_q(best.spearman.q)}, n={best.n}"
    findings.append(
        Finding(
            kind="correlation",
            message=f"AI activity {relation} {words} {lag_words} ({cited}).",
            evidence={
                "metric": correlation.metric,
                "lag": best.lag,
                "spearman_r": best.spearman.r,
                "spearman_p": best.spearman.p,
                "q": best.spearman.q,
                "pearson_r": best.pearson.r,
                "n": best.n,
            },
        )
    )
    if rho > 0:
        ahead = {0: "on the same day", 1: "one day ahead"}.get(best.lag, f"{best.lag} days ahead")
        recommendations.append(
            Recommendation(
                kind="leading_indicator",
                message=(
                    f"Use AI activity as a leading indicator of {words} {ahead} ({cited}); "
                    "correlation is not causation, so confirm with a controlled rollout "
                    "before crediting the assistant."
                ),
            )
        )
    else:
        recommendations.append(
            Recommendation(
                kind="investigate_negative",
                message=(
                    f"Days with more AI activity are followed by fewer {words} {lag_words} "
                    f"({cited}): check for rework or review bottlenecks on AI-heavy days."
                ),
            )
        )
    return findings, recommendations


def _anomaly_findings(
    series: AnomalySeries, threshold: float
) -> tuple[list[Finding], list[Recommendation]]:
    findings: list[Finding] = []
    recommendations: list[Recommendation] = []
    for outlier in series.outliers[:5]:  # the strongest few; the full list is in `anomalies`
        direction = "high" if outlier.z > 0 else "low"
        median = series.median or 0.0
        z = f"robust z={outlier.z:.1f}, |z| > {threshold:g}"
        evidence: dict[str, float | int | str | None] = {
            "series": series.name,
            "key": outlier.key,
            "value": outlier.value,
            "median": series.median,
            "z": outlier.z,
            "threshold": threshold,
        }
        if series.name == "developer_cost_usd":
            findings.append(
                Finding(
                    kind="anomaly_developer",
                    message=(
                        f"{outlier.key} spent {_money(outlier.value)} in the window, unusually "
                        f"{direction} against a median of {_money(median)} per developer ({z})."
                    ),
                    evidence=evidence,
                )
            )
            if outlier.z > 0:
                recommendations.append(
                    Recommendation(
                        kind="review_developer_cost",
                        message=(
                            f"Review {outlier.key}'s models and sessions: "
                            f"{_money(outlier.value)} vs a median of {_money(median)} ({z})."
                        ),
                    )
                )
            continue
        what = "cost" if series.name == "daily_cost_usd" else "AI events"
        shown = _money(outlier.value) if what == "cost" else f"{outlier.value:g}"
        median_shown = _money(median) if what == "cost" else f"{median:g}"
        findings.append(
            Finding(
                kind="anomaly_day",
                message=(
                    f"Daily {what} on {outlier.key} was unusually {direction}: {shown} against "
                    f"a median of {median_shown} per day ({z})."
                ),
                evidence=evidence,
            )
        )
        if outlier.z > 0:
            recommendations.append(
                Recommendation(
                    kind="review_day",
                    message=(
                        f"Look at the sessions of {outlier.key} ({what} {shown}, {z}) for "
                        "runaway agent loops, retries or an unexpectedly expensive model."
                    ),
                )
            )
    return findings, recommendations


def analyze(series: Series, *, max_lag: int, threshold: float) -> dict[str, Any]:
    """All the statistics of a report, from its series. CPU-bound: run it in a thread."""
    correlations = [
        correlate("commits", series.activity, series.commits, max_lag),
        correlate("merged_prs", series.activity, series.merged_prs, max_lag),
    ]
    keys = [day.isoformat() for day in series.days]
    anomaly_series = [
        robust_z(
            "daily_cost_usd", "day", dict(zip(keys, series.daily_cost, strict=True)), threshold
        ),
        robust_z("daily_events", "day", dict(zip(keys, series.activity, strict=True)), threshold),
        robust_z("developer_cost_usd", "developer", series.developer_cost, threshold),
    ]
    findings: list[Finding] = []
    recommendations: list[Recommendation] = []
    for correlation in correlations:
        found, recommended = _correlation_findings(correlation, len(series.days))
        findings += found
        recommendations += recommended
    for anomaly in anomaly_series:
        found, recommended = _anomaly_findings(anomaly, threshold)
        findings += found
        recommendations += recommended
    if any(c.status == "insufficient_data" for c in correlations):
        recommendations.append(
            Recommendation(
                kind="collect_data",
                message=(
                    f"Correlations need at least {MIN_POINTS} days of events and delivery data "
                    f"(the window has {len(series.days)}): widen the window or connect the "
                    "GitHub webhook so commits and pull requests arrive."
                ),
            )
        )
    insufficient = len(series.days) < MIN_POINTS
    return {
        "days": len(series.days),
        "status": "insufficient_data" if insufficient else "ok",
        "correlations": correlations,
        "anomalies": Anomalies(threshold=threshold, series=anomaly_series),
        "findings": findings,
        "recommendations": recommendations,
    }


async def build_report(
    session: AsyncSession, project_id: str, window: Window, *, max_lag: int, threshold: float
) -> InsightsReport:
    series = await load_series(session, project_id, window)
    # SciPy holds the CPU for the whole computation: a worker thread keeps the loop free.
    result = await anyio.to_thread.run_sync(
        partial(analyze, series, max_lag=max_lag, threshold=threshold)
    )
    return InsightsReport(since=window.since, until=window.until, **result)
