"""The statistics of an insights report: pure functions of its series, run in a
worker thread because SciPy is CPU-bound. NumPy and SciPy are imported here and
nowhere else on the request path, so they load with the first report, not at
start-up (the package's __init__ imports this module lazily).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats

from prodlens.analytics.insights.findings import describe
from prodlens.analytics.insights.series import Series
from prodlens.analytics.schemas import (
    ALPHA,
    MIN_POINTS,
    AnalysisStatus,
    Anomalies,
    AnomalyScope,
    AnomalySeries,
    AnomalySeriesName,
    Correlation,
    DeliveryMetric,
    LagResult,
    MetricCorrelation,
    Outlier,
)

# 0.6745 is the 0.75 quantile of the standard normal: it makes MAD comparable to a
# standard deviation; 1.253314 (sqrt(pi/2)) does the same for the mean absolute deviation.
_MAD_SCALE = 0.6745
_MEANAD_SCALE = 1.253314


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _untested(lag: int, n: int, status: AnalysisStatus) -> LagResult:
    return LagResult(
        lag=lag,
        n=n,
        status=status,
        pearson=Correlation(r=None, p=None, q=None),
        spearman=Correlation(r=None, p=None, q=None),
        significant=False,
    )


def _lag_result(
    activity: np.ndarray[Any, Any], delivery: np.ndarray[Any, Any], lag: int
) -> LagResult:
    x = activity[: len(activity) - lag]
    y = delivery[lag:]
    n = len(x)
    if n < MIN_POINTS:
        return _untested(lag, n, "insufficient_data")
    # A constant series has no correlation to speak of (SciPy would warn and answer NaN).
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return _untested(lag, n, "constant_input")
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
    metric: DeliveryMetric,
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
    status: AnalysisStatus = "constant_input"
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
    name: AnomalySeriesName,
    scope: AnomalyScope,
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
    findings, recommendations = describe(
        correlations, anomaly_series, days=len(series.days), threshold=threshold
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
