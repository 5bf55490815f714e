"""The words of an insights report: findings and recommendations, each citing the
statistics it rests on, from the correlations and anomalies already computed."""

from __future__ import annotations

from collections.abc import Sequence

from prodlens.analytics.schemas import (
    MIN_POINTS,
    AnomalySeries,
    Finding,
    MetricCorrelation,
    Recommendation,
)

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


def describe(
    correlations: Sequence[MetricCorrelation],
    anomalies: Sequence[AnomalySeries],
    *,
    days: int,
    threshold: float,
) -> tuple[list[Finding], list[Recommendation]]:
    """Every finding and recommendation of a report, in the order they are shown."""
    findings: list[Finding] = []
    recommendations: list[Recommendation] = []
    for correlation in correlations:
        found, recommended = _correlation_findings(correlation, days)
        findings += found
        recommendations += recommended
    for anomaly in anomalies:
        found, recommended = _anomaly_findings(anomaly, threshold)
        findings += found
        recommendations += recommended
    if any(c.status == "insufficient_data" for c in correlations):
        recommendations.append(
            Recommendation(
                kind="collect_data",
                message=(
                    f"Correlations need at least {MIN_POINTS} days of events and delivery data "
                    f"(the window has {days}): widen the window or connect the "
                    "GitHub webhook so commits and pull requests arrive."
                ),
            )
        )
    return findings, recommendations
