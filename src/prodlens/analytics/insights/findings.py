"""The words of an insights report: findings and recommendations, each citing the
statistics it rests on, and the headline: the strongest relation that survived, or
else the most unusual point. Every correlation finding says what was controlled
for and that it is observational."""

from __future__ import annotations

from collections.abc import Sequence

from prodlens.analytics.schemas import (
    ALPHA,
    EFFECT_FLOOR,
    MIN_ACTIVE_DAYS,
    Anomalies,
    AnomalySeries,
    Finding,
    LagResult,
    MetricCorrelation,
    Outlier,
    Recommendation,
)

_LAG_WORDS = {0: "on the same working day", 1: "one working day later"}
_METRIC_WORDS = {"commits": "commits", "merged_prs": "merged PRs"}
CONTROLLED = (
    "weekday patterns, days off, the trend and day-to-day autocorrelation were taken out first"
)
OBSERVATIONAL = (
    "this is observational: the two move together, which does not show that one causes the other"
)


def _lag_words(lag: int) -> str:
    return _LAG_WORDS.get(lag, f"{lag} working days later")


def _p(value: float | None) -> str:
    """A p or q value as `=0.012` or `<0.001`."""
    if value is None:
        return "=n/a"
    return "<0.001" if value < 0.001 else f"={value:.2g}"


def _r(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _cited(lag: LagResult) -> str:
    return (
        f"r={_r(lag.pearson.r)}, 95 % CI {_r(lag.pearson.ci_low)} to {_r(lag.pearson.ci_high)}, "
        f"q{_p(lag.pearson.q)}, {lag.n} working-day pairs"
    )


def _correlation_finding(
    correlation: MetricCorrelation, tests: int
) -> tuple[Finding, list[Recommendation]]:
    words = _METRIC_WORDS[correlation.metric]
    if correlation.status != "ok":
        return (
            Finding(
                kind="insufficient_data",
                message=(
                    f"Not enough data to relate AI activity to {words}: "
                    f"{correlation.active_days} working day(s) with {words} in the window; "
                    f"at least {MIN_ACTIVE_DAYS} working days with AI activity and "
                    f"{MIN_ACTIVE_DAYS} with {words} are needed."
                ),
                evidence={
                    "metric": correlation.metric,
                    "active_days": correlation.active_days,
                    "total": correlation.total,
                    "min_active_days": MIN_ACTIVE_DAYS,
                },
            ),
            [],
        )
    best = next((lag for lag in correlation.lags if lag.lag == correlation.best_lag), None)
    if best is None:
        tested = [lag for lag in correlation.lags if lag.pearson.q is not None]
        strongest = max(tested, key=lambda lag: abs(lag.pearson.r or 0.0))
        return (
            Finding(
                kind="no_correlation",
                message=(
                    f"No relation between AI activity and {words} at lags 0-"
                    f"{correlation.lags[-1].lag} working days survived ({tests} tests, "
                    f"false discovery rate {ALPHA:.0%}, |r| at least {EFFECT_FLOOR:g}); the "
                    f"strongest, {_lag_words(strongest.lag)}: {_cited(strongest)}."
                ),
                evidence={
                    "metric": correlation.metric,
                    "lag": strongest.lag,
                    "r": strongest.pearson.r,
                    "q": strongest.pearson.q,
                    "n": strongest.n,
                },
            ),
            [],
        )
    r = best.pearson.r or 0.0
    more = "more" if r > 0 else "fewer"
    verb = "had" if best.lag == 0 else "were followed by"
    finding = Finding(
        kind="correlation",
        message=(
            f"Working days with more AI activity {verb} {more} {words} "
            f"{_lag_words(best.lag)} ({_cited(best)}); {CONTROLLED}; {OBSERVATIONAL}."
        ),
        evidence={
            "metric": correlation.metric,
            "lag": best.lag,
            "r": best.pearson.r,
            "ci_low": best.pearson.ci_low,
            "ci_high": best.pearson.ci_high,
            "p": best.pearson.p,
            "q": best.pearson.q,
            "n": best.n,
            "n_effective": best.n_effective,
        },
    )
    if r > 0:
        advice = Recommendation(
            kind="leading_indicator",
            message=(
                f"AI activity tends to lead {words} by {best.lag} working day(s) "
                f"(r={_r(r)}): a useful signal for planning, not proof that the assistant "
                "causes the output; compare adopters with non-adopters (insights/"
                "interventions) before crediting it."
            ),
        )
    else:
        advice = Recommendation(
            kind="investigate_negative",
            message=(
                f"Busier AI days are followed by fewer {words} {_lag_words(best.lag)} "
                f"(r={_r(r)}): check for rework or review bottlenecks after AI-heavy days."
            ),
        )
    return finding, [advice]


def _anomaly_finding(series: AnomalySeries, outlier: Outlier, anomalies: Anomalies) -> Finding:
    day = f"{outlier.day:%a} {outlier.day.isoformat()}"
    ratio = outlier.value / outlier.expected if outlier.expected > 0 else None
    times = f"{ratio:.1f}x" if ratio is not None else "far above"
    significance = (
        f"p{_p(outlier.p)}, below {anomalies.alpha:g}/{anomalies.points} for the "
        f"{anomalies.points} points examined"
    )
    evidence: dict[str, float | int | str | None] = {
        "series": series.name,
        "day": outlier.day.isoformat(),
        "developer": outlier.developer,
        "value": outlier.value,
        "expected": outlier.expected,
        "p": outlier.p,
        "points": anomalies.points,
    }
    if series.name == "developer_day_events":
        return Finding(
            kind="anomaly_developer_day",
            message=(
                f"{outlier.developer} made {outlier.value:,.0f} AI calls on {day}, {times} "
                f"their usual for a day like it (about {outlier.expected:,.1f}, allowing for "
                f"how busy the rest of the team was; {significance})."
            ),
            evidence=evidence,
        )
    if series.name == "daily_error_rate":
        return Finding(
            kind="anomaly_errors",
            message=(
                f"On {day}, {outlier.value:.1%} of AI calls failed, against "
                f"{outlier.expected:.1%} on the other days ({significance}): a provider "
                "incident, rate limiting or a misconfigured client?"
            ),
            evidence=evidence,
        )
    what, shown, usual = (
        ("cost", _money(outlier.value), _money(outlier.expected))
        if series.name == "daily_cost_usd"
        else ("AI calls", f"{outlier.value:,.0f}", f"{outlier.expected:,.1f}")
    )
    return Finding(
        kind="anomaly_day",
        message=(
            f"The team's {what} on {day} was {shown}, {times} a usual {outlier.day:%A} "
            f"({usual}; {significance})."
        ),
        evidence=evidence,
    )


def _anomaly_advice(series: AnomalySeries, outlier: Outlier) -> Recommendation:
    day = outlier.day.isoformat()
    if series.name == "developer_day_events":
        return Recommendation(
            kind="review_developer_day",
            message=(
                f"Look at {outlier.developer}'s sessions on {day} for runaway agent loops, "
                "retries or a script calling the model."
            ),
        )
    if series.name == "daily_error_rate":
        return Recommendation(
            kind="review_errors",
            message=(
                f"Check the provider's status and the error types of {day} "
                "(GET .../sessions?status=error); errors count against the error-rate KPI."
            ),
        )
    return Recommendation(
        kind="review_day",
        message=(
            f"Look at the sessions of {day} for runaway agent loops, retries or an "
            "unexpectedly expensive model."
        ),
    )


def describe(
    correlations: Sequence[MetricCorrelation], anomalies: Anomalies, *, working_days: int
) -> tuple[list[Finding], list[Recommendation], Finding | None]:
    """Every finding and recommendation of a report in the order shown, and the headline."""
    findings: list[Finding] = []
    recommendations: list[Recommendation] = []
    tests = sum(1 for c in correlations for lag in c.lags if lag.pearson.q is not None)
    strongest: tuple[float, Finding] | None = None
    for correlation in correlations:
        finding, advice = _correlation_finding(correlation, tests)
        findings.append(finding)
        recommendations += advice
        r = finding.evidence.get("r")
        is_stronger = isinstance(r, float) and (strongest is None or abs(r) > strongest[0])
        if finding.kind == "correlation" and isinstance(r, float) and is_stronger:
            strongest = (abs(r), finding)
    unusual: list[tuple[float, Finding]] = []
    for series in anomalies.series:
        for outlier in series.outliers[:5]:  # the strongest few; all are in `anomalies`
            finding = _anomaly_finding(series, outlier, anomalies)
            findings.append(finding)
            unusual.append((outlier.p, finding))
            recommendations.append(_anomaly_advice(series, outlier))
    if any(c.status == "insufficient_data" for c in correlations):
        recommendations.append(
            Recommendation(
                kind="collect_data",
                message=(
                    f"Relations need at least {MIN_ACTIVE_DAYS} working days of AI activity "
                    f"and of delivery data (the window has {working_days} working days): "
                    "widen the window or connect the GitHub webhook so commits and pull "
                    "requests arrive."
                ),
            )
        )
    headline = (
        strongest[1] if strongest else min(unusual, key=lambda u: u[0])[1] if unusual else None
    )
    return findings, recommendations, headline
