"""Pydantic shapes of the analytics API: metrics and KPI targets, time series,
developers and insights.

The class names are the schema names of the OpenAPI document: renaming one
changes the published API. The session shapes stay in sessions.py, whose module
name is part of their OpenAPI name (auth has a SessionPublic too).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    latency_histogram: list[int] = Field(
        description="Calls per latency bucket; upper edges in `latency_edges_ms`, "
        "the last bucket is open-ended."
    )
    latency_edges_ms: list[float]
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
    "latency_p95",
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


# --- insights ----------------------------------------------------------------------------

# The method's fixed parameters: every report states them, so they live with its shape.
MIN_POINTS = 6  # fewest days (or developers) a correlation or an anomaly test runs on
ALPHA = 0.05  # a lag is significant when its Benjamini-Hochberg q is below this

AnalysisStatus = Literal["ok", "insufficient_data", "constant_input"]
AnomalySeriesName = Literal["daily_cost_usd", "daily_events", "developer_cost_usd"]
AnomalyScope = Literal["day", "developer"]
DeliveryMetric = Literal["commits", "merged_prs"]


class Correlation(BaseModel):
    r: float | None
    p: float | None
    q: float | None = Field(description="Benjamini-Hochberg adjusted p across the lags.")


class LagResult(BaseModel):
    lag: int = Field(description="Days by which AI activity leads delivery.")
    n: int = Field(description="Overlapping days (pairs) at this lag.")
    status: AnalysisStatus
    pearson: Correlation
    spearman: Correlation
    significant: bool = Field(description="Spearman q < alpha.")


class MetricCorrelation(BaseModel):
    metric: DeliveryMetric
    activity: Literal["events"] = "events"
    status: AnalysisStatus
    total: int = Field(description="Delivery items in the window.")
    lags: list[LagResult]
    best_lag: int | None = Field(description="The significant lag with the smallest q.")


class Outlier(BaseModel):
    key: str = Field(description="The day (ISO date) or the developer id.")
    value: float
    z: float


class AnomalySeries(BaseModel):
    name: AnomalySeriesName
    scope: AnomalyScope
    status: AnalysisStatus
    n: int
    median: float | None
    mad: float | None
    method: Literal["mad", "meanad"] | None = Field(
        description="`meanad` when the MAD was 0 and the mean absolute deviation was used."
    )
    outliers: list[Outlier]


class Anomalies(BaseModel):
    threshold: float = Field(description="|robust z| above this is flagged.")
    series: list[AnomalySeries]


class Finding(BaseModel):
    kind: Literal[
        "correlation", "no_correlation", "insufficient_data", "anomaly_day", "anomaly_developer"
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
    min_points: int = MIN_POINTS
    alpha: float = ALPHA
    status: Literal["ok", "insufficient_data"]
    correlations: list[MetricCorrelation]
    anomalies: Anomalies
    findings: list[Finding]
    recommendations: list[Recommendation]
