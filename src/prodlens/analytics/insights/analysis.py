"""The statistics of an insights report: pure functions of its series and the
project's calendar, run in a worker thread because SciPy is CPU-bound. NumPy and
SciPy are imported here (and in correlation.py, anomalies.py) and nowhere else on
the request path, so they load with the first report, not at start-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prodlens.analytics.calendar import WorkCalendar
from prodlens.analytics.insights import anomalies, correlation
from prodlens.analytics.insights.findings import describe
from prodlens.analytics.insights.series import Series
from prodlens.analytics.schemas import (
    ALPHA,
    EFFECT_FLOOR,
    MIN_ACTIVE_DAYS,
    AnalysisStatus,
    Anomalies,
    AnomalySeries,
    Correlation,
    DeliveryMetric,
    LagResult,
    MetricCorrelation,
    Outlier,
)

_DELIVERY: tuple[DeliveryMetric, ...] = ("commits", "merged_prs")


def _untested(lag: int, n: int, status: AnalysisStatus) -> LagResult:
    empty = Correlation(r=None, p=None, q=None)
    return LagResult(
        lag=lag,
        n=n,
        n_effective=None,
        status=status,
        pearson=empty,
        spearman=empty,
        significant=False,
    )


def correlations(
    series: Series, working: np.ndarray[Any, Any], weekdays: np.ndarray[Any, Any], max_lag: int
) -> list[MetricCorrelation]:
    deliveries = {"commits": series.commits, "merged_prs": series.merged_prs}
    tested = correlation.correlate_all(series.activity, deliveries, working, weekdays, max_lag)
    # One family: every (metric, lag) the report tests, for each coefficient.
    family = [(metric, test) for metric in _DELIVERY for test in tested[metric].tests.values()]
    q_pearson = correlation.benjamini_hochberg([test.p for _, test in family])
    q_spearman = correlation.benjamini_hochberg([test.spearman_p for _, test in family])
    q_of = {
        (metric, test.lag): (qp, qs)
        for (metric, test), qp, qs in zip(family, q_pearson, q_spearman, strict=True)
    }
    pairs = max(int(np.count_nonzero(working)) - 1, 0)  # prewhitening uses the first day
    results = []
    for metric in _DELIVERY:
        outcome = tested[metric]
        values = np.asarray(deliveries[metric], dtype=float)
        lags = []
        for lag in range(max_lag + 1):
            test = outcome.tests.get(lag)
            if test is None:
                lags.append(
                    _untested(lag, max(pairs - lag, 0), outcome.reason or "insufficient_data")
                )
                continue
            qp, qs = q_of[(metric, lag)]
            lags.append(
                LagResult(
                    lag=lag,
                    n=test.n,
                    n_effective=round(test.n_eff, 1),
                    status="ok",
                    pearson=Correlation(
                        r=test.r, p=test.p, q=qp, ci_low=test.ci[0], ci_high=test.ci[1]
                    ),
                    spearman=Correlation(r=test.spearman_r, p=test.spearman_p, q=qs),
                    significant=qp < ALPHA and abs(test.r) >= EFFECT_FLOOR,
                )
            )
        significant = [lag for lag in lags if lag.significant]
        best = max(significant, key=lambda lag: abs(lag.pearson.r or 0.0), default=None)
        results.append(
            MetricCorrelation(
                metric=metric,
                status="ok" if outcome.tests else outcome.reason or "insufficient_data",
                total=int(values.sum()),
                active_days=int(np.count_nonzero(values[working] > 0)),
                lags=lags,
                best_lag=best.lag if best else None,
            )
        )
    return results


def anomaly_report(series: Series, working: np.ndarray[Any, Any]) -> Anomalies:
    days = series.days
    examined = [
        anomalies.day_counts("daily_events", series.activity, days, working),
        anomalies.day_cost(series.daily_cost, days, working),
        anomalies.day_errors(series.daily_errors, series.activity, days, working),
        anomalies.developer_counts("developer_day_events", series.developer_events, days, working),
    ]
    points = sum(len(result.points) for result in examined)
    threshold = ALPHA / max(points, 1)
    shown = []
    for result in examined:
        flagged = sorted(
            (point for point in result.points if anomalies.flagged(point, result, threshold)),
            key=lambda point: point.p,
        )
        shown.append(
            AnomalySeries(
                name=result.name,
                scope=result.scope,
                method=result.method,
                status=result.status,
                n=len(result.points),
                spread=result.spread,
                outliers=[
                    Outlier(
                        key=point.day.isoformat()
                        if point.developer is None
                        else f"{point.developer}@{point.day.isoformat()}",
                        day=point.day,
                        developer=point.developer,
                        value=point.value,
                        expected=point.expected,
                        p=point.p,
                    )
                    for point in flagged
                ],
            )
        )
    return Anomalies(
        points=points,
        threshold_p=threshold,
        min_ratio=anomalies.MIN_RATIO,
        series=shown,
    )


def analyze(series: Series, calendar: WorkCalendar, *, max_lag: int) -> dict[str, Any]:
    """All the statistics of a report, from its series. CPU-bound: run it in a thread."""
    working = np.array(calendar.working(series.days), dtype=bool)
    weekdays = np.array([day.weekday() for day in series.days], dtype=int)
    found = correlations(series, working, weekdays, max_lag)
    unusual = anomaly_report(series, working)
    working_days = int(np.count_nonzero(working))
    findings, recommendations, headline = describe(found, unusual, working_days=working_days)
    return {
        "days": len(series.days),
        "working_days": working_days,
        "status": "insufficient_data" if working_days < MIN_ACTIVE_DAYS else "ok",
        "correlations": found,
        "headline": headline,
        "anomalies": unusual,
        "findings": findings,
        "recommendations": recommendations,
    }
