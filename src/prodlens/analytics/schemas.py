"""Pydantic shapes of the analytics API: metrics and KPI targets, time series,
developers and insights.

The class names are the schema names of the OpenAPI document: renaming one
changes the published API. The LLM session shapes are in sessions.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prodlens.kit.schemas import Strict

# --- KPIs and raw metrics ----------------------------------------------------------------

Direction = Literal["higher_is_better", "lower_is_better"]
KpiStatus = Literal["good", "warning", "critical", "insufficient_data"]


class RawMetrics(BaseModel):
    """The sums KPIs are computed from, for one project, window and filters."""

    project_id: str
    since: datetime
    until: datetime
    developer: str | None
    model: str | None
    events: int = Field(description="Model calls.")
    errors: int
    refused: int = Field(
        description="Requests turned away before any model call (a proxy's unknown model or "
        "wrong key): not in `events`, so not in the error rate."
    )
    accepted: int = Field(description="Calls whose suggestion was accepted.")
    rejected: int = Field(description="Calls whose suggestion was rejected.")
    acceptance_unknown: int = Field(description="Calls without an acceptance outcome.")
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    total_tokens: int
    cost_usd: float
    developer_cost_usd: float = Field(description="Cost of calls with a developer id.")
    lines_suggested: int
    lines_accepted: int
    latency_count: int = Field(description="Calls with a known latency.")
    latency_mean_ms: float | None
    latency_p50_ms: float | None = Field(
        description="Latency percentiles (p50, p90, p95, p99) of those calls, from the "
        "latency sketch: within 1 % of the exact value (docs/metrics.md); null without calls."
    )
    latency_p90_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    ttft_count: int = Field(description="Calls with a known time to first token.")
    ttft_p50_ms: float | None = Field(
        description="Time-to-first-token percentiles (p50, p90, p95, p99), as for latency."
    )
    ttft_p90_ms: float | None
    ttft_p95_ms: float | None
    ttft_p99_ms: float | None
    active_developers: int
    active_developer_hours: int = Field(description="Distinct (developer, UTC hour) with calls.")
    developer_days: int = Field(description="Distinct (developer, UTC day) with calls.")
    sessions: int | None = Field(description="Sessions started; null under a model filter.")
    developer_sessions: int | None = Field(description="Of those, sessions with a developer id.")
    policy_active: bool = Field(description="The project restricts models (allowed_models).")
    policy_calls: int = Field(description="Calls with a known model.")
    compliant_calls: int = Field(description="Calls with a known, allowed model.")
    commits: int
    prs_opened: int = Field(description="Pull requests created in the window.")
    prs_merged: int = Field(description="Pull requests merged in the window.")
    prs_seen: int = Field(description="Pull requests created or merged in the window.")
    prs_resolved: int = Field(description="Pull requests merged or closed in the window.")
    prs_reworked: int = Field(description="Of those, pull requests reopened at least once.")
    pr_merge_hours_median: float | None = Field(
        description="Median hours from creation to merge of the merged pull requests."
    )
    # What coding assistants report about themselves (daily facts: every whole UTC day
    # the window touches; docs/assistants.md).
    copilot_code_generations: int = Field(
        description="Copilot's code generation activities (its usage reports)."
    )
    copilot_code_acceptances: int = Field(description="Of those, accepted by the developer.")
    copilot_lines_suggested_added: int = Field(description="Lines Copilot suggested to add.")
    copilot_lines_added: int = Field(
        description="Lines added from Copilot's suggestions (agent edits left out)."
    )
    claude_code_edits_accepted: int = Field(
        description="Claude Code's edit tool decisions `accept` "
        "(claude_code.code_edit_tool.decision)."
    )
    claude_code_edits_rejected: int = Field(description="Claude Code edit tool decisions `reject`.")


class Kpi(BaseModel):
    name: str
    label: str
    value: float | None = Field(description="Null when the KPI cannot be computed.")
    unit: str
    target: float = Field(description="The good threshold.")
    warning_threshold: float = Field(description="Beyond this (in the wrong direction): critical.")
    direction: Direction
    status: KpiStatus
    sample_size: int
    min_sample: int


class KpiReport(BaseModel):
    project_id: str
    since: datetime
    until: datetime
    developer: str | None
    model: str | None
    kpis: list[Kpi]


# --- KPI targets -------------------------------------------------------------------------


class TargetIn(BaseModel):
    """Overrides of one KPI's thresholds; omitted fields keep their defaults."""

    model_config = ConfigDict(extra="forbid")

    good: float | None = Field(None, ge=0, allow_inf_nan=False, description="The target.")
    warning: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Between target and this: warning."
    )
    min_sample: int | None = Field(None, ge=1, le=1_000_000_000)


class TargetsUpdate(BaseModel):
    """The project's overrides, replacing the previous ones (unlisted KPIs: defaults)."""

    model_config = ConfigDict(extra="forbid")

    targets: dict[str, TargetIn] = Field(default_factory=dict)


class TargetPublic(BaseModel):
    name: str
    label: str
    unit: str
    direction: Direction
    good: float
    warning: float
    min_sample: int
    customized: bool = Field(description="Set for this project (else the default).")


class TargetsPublic(BaseModel):
    targets: list[TargetPublic]


# --- time series -------------------------------------------------------------------------

Interval = Literal["hour", "day", "week"]
MetricName = Literal[
    "events",
    "errors",
    "accepted",
    "rejected",
    "acceptance_rate",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "total_tokens",
    "cost_usd",
    "lines_accepted",
    "latency_p50",
    "latency_p90",
    "latency_p95",
    "latency_p99",
    "ttft_p50",
    "ttft_p90",
    "ttft_p95",
    "ttft_p99",
    "active_developers",
    "sessions",
]


class TimeSeriesPoint(BaseModel):
    start: datetime
    value: int | float | None = Field(
        description="Counts are 0 in empty buckets; ratios and percentiles null."
    )


class TimeSeries(BaseModel):
    metric: str
    unit: str
    interval: Interval
    since: datetime
    until: datetime
    developer: str | None
    model: str | None
    points: list[TimeSeriesPoint]


# --- developers --------------------------------------------------------------------------

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Totals(BaseModel):
    events: int
    sessions: int
    errors: int
    error_rate: float | None
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float


class Acceptance(BaseModel):
    accepted: int
    rejected: int
    rate: float | None = Field(description="accepted / (accepted + rejected); unknowns excluded.")
    lines_suggested: int
    lines_accepted: int


class ModelShare(BaseModel):
    model: str | None = Field(description="`null` for events that named no model.")
    events: int
    share: float = Field(description="This model's fraction of the developer's events.")
    total_tokens: int
    cost_usd: float


class DailyCost(BaseModel):
    date: date
    events: int
    cost_usd: float


class Heatmap(BaseModel):
    timezone: str = "UTC"
    weekdays: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    counts: list[list[int]] = Field(description="7 rows (Monday first) of 24 hourly counts.")


class DeveloperProfile(BaseModel):
    developer_id: str
    since: datetime
    until: datetime
    days: int
    totals: Totals
    acceptance: Acceptance
    models: list[ModelShare]
    cost_trend: list[DailyCost]
    heatmap: Heatmap
    last_active: datetime | None


class DeveloperSummary(BaseModel):
    developer_id: str
    events: int
    sessions: int
    errors: int
    total_tokens: int
    cost_usd: float
    acceptance_rate: float | None
    last_active: date | None


# --- working calendar ---------------------------------------------------------------------


class CalendarUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    working_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        min_length=1,
        max_length=7,
        description="Weekdays the team works, Monday 0 ... Sunday 6. Default: Monday-Friday.",
    )
    holidays: list[date] = Field(
        default_factory=list,
        max_length=1000,
        description="Dates nobody works (public holidays, company days off).",
    )

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 0 <= day <= 6 for day in value):
            raise ValueError("weekdays are numbered 0 (Monday) to 6 (Sunday)")
        return value


class CalendarPublic(BaseModel):
    working_days: list[int] = Field(description="Monday 0 ... Sunday 6.")
    holidays: list[date]


# --- insights ----------------------------------------------------------------------------

# The method's fixed parameters: every report states them, so they live with its shape.
MIN_ACTIVE_DAYS = 10  # working days with activity, in each series, before anything is tested
ALPHA = 0.05  # false-discovery rate (correlations) and family-wise error (anomalies)
EFFECT_FLOOR = 0.3  # |r| below this is not a finding however small its q

AnalysisStatus = Literal["ok", "insufficient_data", "constant_input"]
AnomalySeriesName = Literal[
    "daily_events", "daily_cost_usd", "daily_error_rate", "developer_day_events"
]
AnomalyScope = Literal["day", "developer_day"]
AnomalyMethod = Literal["poisson_lognormal", "log_robust_z", "binomial"]
DeliveryMetric = Literal["commits", "merged_prs"]


class Correlation(BaseModel):
    r: float | None
    p: float | None = Field(description="Two-sided, corrected for autocorrelation.")
    q: float | None = Field(
        description="Benjamini-Hochberg q across every (metric, lag) of the report."
    )
    ci_low: float | None = Field(None, description="95 % confidence interval of r.")
    ci_high: float | None = None


class LagResult(BaseModel):
    lag: int = Field(description="Working days by which AI activity leads delivery.")
    n: int = Field(description="Pairs of working days at this lag.")
    n_effective: float | None = Field(
        description="The pairs' worth in independent observations, after autocorrelation."
    )
    status: AnalysisStatus
    pearson: Correlation = Field(
        description="Of the calendar-adjusted, prewhitened daily series: findings rest on it."
    )
    spearman: Correlation = Field(description="Rank version of the same, for robustness.")
    significant: bool = Field(description="Pearson q < alpha and |r| >= effect_floor.")


class MetricCorrelation(BaseModel):
    metric: DeliveryMetric
    activity: Literal["events"] = "events"
    status: AnalysisStatus
    total: int = Field(description="Delivery items in the window.")
    active_days: int = Field(description="Working days with at least one item.")
    lags: list[LagResult]
    best_lag: int | None = Field(description="The significant lag with the largest |r|.")


class Outlier(BaseModel):
    key: str = Field(description="The day (ISO date), or `developer@day` for a developer-day.")
    day: date
    developer: str | None
    value: float = Field(description="Events, cost (USD) or error rate, as the series counts.")
    expected: float = Field(description="The baseline the value was compared with.")
    p: float = Field(description="One-sided: the chance of a value this high on the baseline.")


class AnomalySeries(BaseModel):
    name: AnomalySeriesName
    scope: AnomalyScope
    method: AnomalyMethod
    status: AnalysisStatus
    n: int = Field(description="Points examined.")
    spread: float | None = Field(
        description="Day-to-day variation on the log scale the baselines allow for."
    )
    outliers: list[Outlier]


class Anomalies(BaseModel):
    alpha: float = ALPHA
    points: int = Field(description="Points examined across all series of the report.")
    threshold_p: float = Field(description="alpha / points: the p a point must fall below.")
    min_ratio: float = Field(
        description="A flagged value is at least this many times its baseline."
    )
    series: list[AnomalySeries]


class Finding(BaseModel):
    kind: Literal[
        "correlation",
        "no_correlation",
        "insufficient_data",
        "anomaly_day",
        "anomaly_developer_day",
        "anomaly_errors",
    ]
    message: str
    evidence: dict[str, float | int | str | None]


class Recommendation(BaseModel):
    kind: str
    message: str


class InsightsReport(BaseModel):
    since: datetime
    until: datetime
    days: int
    working_days: int = Field(description="Days of the window the calendar counts as working.")
    calendar: CalendarPublic
    min_active_days: int = MIN_ACTIVE_DAYS
    alpha: float = ALPHA
    effect_floor: float = EFFECT_FLOOR
    observational: Literal[True] = True
    status: Literal["ok", "insufficient_data"]
    correlations: list[MetricCorrelation]
    headline: Finding | None = Field(
        description="The strongest surviving relation, or the most unusual point; null if none."
    )
    anomalies: Anomalies
    findings: list[Finding]
    recommendations: list[Recommendation]


# --- intervention analysis ----------------------------------------------------------------

InterventionMetric = Literal[
    "events_per_working_day",
    "cost_per_working_day",
    "acceptance_rate",
    "error_rate",
    "mean_latency_ms",
    "commits_per_working_day",
]
InterventionMethod = Literal["difference_in_differences", "own_trend"]


class InterventionPeriod(BaseModel):
    start: date = Field(description="First UTC day, inclusive.")
    end: date = Field(description="UTC day after the last one (exclusive).")
    working_days: int = Field(description="Days of the period the project's calendar works.")


class InterventionGroups(BaseModel):
    adopters: list[str] = Field(description="The developer ids named in `adopters`.")
    comparison: list[str] = Field(
        description="Other developers with calls in the two periods (the first 100, sorted); "
        "empty when no adopters are named."
    )
    comparison_count: int
    comparison_truncated: bool


class InterventionEffect(BaseModel):
    name: InterventionMetric
    unit: str
    method: InterventionMethod
    method_reason: str = Field(description="Why this method was used for this KPI.")
    status: Literal["ok", "insufficient_data"]
    adopters_before: float | None = Field(
        description="The adopters' mean (own trend without adopters: the whole team's)."
    )
    adopters_after: float | None
    comparison_before: float | None = Field(description="Difference-in-differences only.")
    comparison_after: float | None
    effect: float | None = Field(
        description="Difference-in-differences: the adopters' change minus the comparison "
        "group's. Own trend: the level shift on the adoption date beyond the trend."
    )
    ci_low: float | None = Field(description="95 % confidence interval of `effect`.")
    ci_high: float | None
    p: float | None = Field(description="Two-sided p-value of `effect` = 0.")
    df: float | None = Field(description="Degrees of freedom of the t-distribution used.")
    hac_lags: int | None = Field(description="Own trend: Newey-West lags.")
    n_adopters: int = Field(description="Developers whose data entered the estimate.")
    n_comparison: int
    before_days: int = Field(description="Working days of the before period.")
    after_days: int
    message: str


class InterventionReport(BaseModel):
    observational: Literal[True] = Field(
        True, description="An observational comparison, not an experiment."
    )
    intervention_date: date = Field(description="First day of the after period.")
    days: int = Field(description="Requested length of each period, in calendar days.")
    confidence: float = 0.95
    status: Literal["ok", "insufficient_data"]
    before: InterventionPeriod
    after: InterventionPeriod = Field(description="Clipped to yesterday: today is not over.")
    groups: InterventionGroups
    calendar: CalendarPublic
    effects: list[InterventionEffect]
    message: str


# --- identities ---------------------------------------------------------------------------

IdentityKindName = Literal["email", "github", "litellm", "otel", "other"]


class IdentityLink(Strict):
    """Link an identity a source reports to this developer."""

    identity: str = Field(
        min_length=1,
        max_length=128,
        description="The developer id a source sends for this person (an email, a GitHub "
        "login, a LiteLLM user, an OpenTelemetry `user.*` value), exactly as events carry it.",
    )
    kind: IdentityKindName = Field("other", description="What the identity is.")


class IdentityPublic(BaseModel):
    id: str
    identity: str
    developer_id: str
    kind: str
    automatic: bool = Field(description="Linked on an exact email match, not by a person.")
    linked_by: str | None
    created_at: datetime


class IdentityList(BaseModel):
    developer_id: str
    items: list[IdentityPublic]
