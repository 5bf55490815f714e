"""The KPI catalogue: each KPI's unit, direction, default thresholds and minimum
sample, and how a value is judged against them. docs/metrics.md has the same table."""

from __future__ import annotations

from dataclasses import dataclass

from prodlens.analytics.schemas import Direction, KpiStatus


@dataclass(frozen=True)
class KpiDefinition:
    name: str
    label: str
    unit: str
    direction: Direction
    good: float  # the target: at or beyond it (in `direction`) the status is good
    warning: float  # between `good` and this: warning; beyond it: critical
    min_sample: int  # below this sample size: insufficient_data
    ratio: bool = False  # values (and thresholds) lie in [0, 1]


HIGHER: Direction = "higher_is_better"
LOWER: Direction = "lower_is_better"

KPIS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "sessions_per_developer_hour",
        "Sessions per active developer-hour",
        "sessions/developer-hour",
        HIGHER,
        0.5,
        0.25,
        10,
    ),
    KpiDefinition("acceptance_rate", "Acceptance rate", "ratio", HIGHER, 0.30, 0.20, 20, True),
    KpiDefinition("error_rate", "Error rate", "ratio", LOWER, 0.02, 0.05, 20, True),
    KpiDefinition("latency_p50", "Latency p50", "ms", LOWER, 2000, 5000, 20),
    KpiDefinition("latency_p90", "Latency p90", "ms", LOWER, 4000, 8000, 20),
    KpiDefinition("latency_p95", "Latency p95", "ms", LOWER, 5000, 10000, 20),
    # The slowest 1 %: a sample of 100 calls before it says anything.
    KpiDefinition("latency_p99", "Latency p99", "ms", LOWER, 10000, 30000, 100),
    KpiDefinition(
        "tokens_per_accepted_line", "Tokens per accepted line", "tokens/line", LOWER, 1000, 2500, 20
    ),
    KpiDefinition("cost_per_merged_pr", "Cost per merged PR", "USD", LOWER, 25, 75, 3),
    KpiDefinition(
        "model_policy_compliance", "Model policy compliance", "ratio", HIGHER, 0.95, 0.80, 20, True
    ),
    KpiDefinition("pr_throughput", "PR throughput", "PRs/week", HIGHER, 3, 1, 1),
    KpiDefinition("commit_frequency", "Commit frequency", "commits/day", HIGHER, 2, 0.5, 1),
    KpiDefinition("pr_merge_time", "PR merge time (median)", "hours", LOWER, 24, 72, 3),
    KpiDefinition("rework_rate", "Rework rate", "ratio", LOWER, 0.10, 0.20, 5, True),
    KpiDefinition("cache_hit_ratio", "Cache-hit ratio", "ratio", HIGHER, 0.30, 0.10, 20, True),
    KpiDefinition(
        "cost_per_developer_day",
        "Cost per developer-day",
        "USD/developer-day",
        LOWER,
        20,
        50,
        5,
    ),
    # From the assistants' own reports (docs/assistants.md), each labelled by its source.
    KpiDefinition(
        "copilot_acceptance_by_activity",
        "Copilot acceptance (by activity)",
        "ratio",
        HIGHER,
        0.30,
        0.20,
        20,
        True,
    ),
    KpiDefinition(
        "copilot_acceptance_by_lines",
        "Copilot acceptance (by lines)",
        "ratio",
        HIGHER,
        0.30,
        0.20,
        20,
        True,
    ),
    KpiDefinition(
        "claude_code_edit_acceptance",
        "Claude Code edit acceptance",
        "ratio",
        HIGHER,
        0.80,
        0.60,
        20,
        True,
    ),
)
BY_NAME: dict[str, KpiDefinition] = {kpi.name: kpi for kpi in KPIS}


@dataclass(frozen=True)
class Target:
    """The thresholds in force for one KPI: its defaults or a project's overrides."""

    good: float
    warning: float
    min_sample: int


def status_of(
    value: float | None, sample_size: int, target: Target, direction: Direction
) -> KpiStatus:
    if value is None or sample_size < target.min_sample:
        return "insufficient_data"
    if direction == HIGHER:
        good, warning = value >= target.good, value >= target.warning
    else:
        good, warning = value <= target.good, value <= target.warning
    return "good" if good else "warning" if warning else "critical"
