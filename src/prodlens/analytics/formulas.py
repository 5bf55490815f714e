"""The formulas of docs/metrics.md, each written once.

KPIs, time series and developer profiles all compute their ratios here, from
sums of the rollup counters, so the same name means the same number wherever
it is shown. A ratio with nothing to divide by has no value (None), never 0.
"""

from __future__ import annotations

from typing import Any

from prodlens.analytics.models import ROLLUP_COUNTERS, DailyRollup

# Counters that hold amounts (USD, milliseconds) rather than counts: their sums are
# reported as floats, every other counter's as an integer.
FRACTIONAL_COUNTERS = frozenset(
    name for name in ROLLUP_COUNTERS if DailyRollup.__table__.c[name].type.python_type is not int
)

# The unit each counter is reported in (a time series of it names this unit).
COUNTER_UNITS: dict[str, str] = {
    "events": "calls",
    "errors": "calls",
    "refused": "requests",
    "accepted": "calls",
    "rejected": "calls",
    "input_tokens": "tokens",
    "output_tokens": "tokens",
    "cache_read_tokens": "tokens",
    "cache_creation_tokens": "tokens",
    "total_tokens": "tokens",
    "cost_usd": "USD",
    "lines_suggested": "lines",
    "lines_accepted": "lines",
    "latency_count": "calls",
    "latency_ms_sum": "ms",
}
assert set(COUNTER_UNITS) == set(ROLLUP_COUNTERS)


def counter_value(name: str, total: Any) -> int | float:
    """A summed counter as the API shows it; an empty sum (SQL NULL) is 0."""
    return float(total or 0) if name in FRACTIONAL_COUNTERS else int(total or 0)


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def acceptance_rate(accepted: float, rejected: float) -> float | None:
    """Calls with an unknown outcome are left out of both sides."""
    return ratio(accepted, accepted + rejected)


def error_rate(errors: float, events: float) -> float | None:
    return ratio(errors, events)


def cache_hit_ratio(cache_read_tokens: float, input_tokens: float) -> float | None:
    """`input_tokens` are the uncached ones, so the whole input is their sum."""
    return ratio(cache_read_tokens, input_tokens + cache_read_tokens)


def tokens_per_accepted_line(total_tokens: float, lines_accepted: float) -> float | None:
    return ratio(total_tokens, lines_accepted)


def cost_per_merged_pr(cost_usd: float, prs_merged: float) -> float | None:
    return ratio(cost_usd, prs_merged)


def model_policy_compliance(compliant_calls: float, policy_calls: float) -> float | None:
    return ratio(compliant_calls, policy_calls)


def rework_rate(prs_reworked: float, prs_resolved: float) -> float | None:
    return ratio(prs_reworked, prs_resolved)


def cost_per_developer_day(developer_cost_usd: float, developer_days: float) -> float | None:
    return ratio(developer_cost_usd, developer_days)


def sessions_per_developer_hour(
    developer_sessions: float, active_developer_hours: float
) -> float | None:
    return ratio(developer_sessions, active_developer_hours)


def pr_throughput(prs_merged: float, weeks: float) -> float:
    """0, not None, when nothing was merged: the window is never empty."""
    return prs_merged / weeks


def commit_frequency(commits: float, days: float) -> float:
    """0, not None, when nothing was committed: the window is never empty."""
    return commits / days
