"""KPIs for a project and window: definitions, targets, and their computation.

Everything here reads the rollups (hourly and daily), `llm_sessions`, `commits`
and `pull_requests`, never the `events` table, so a query costs O(hours) or
O(days) of the window, not O(events). docs/metrics.md states each definition
below; keep the two in step.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import latency
from prodlens.analytics import window as window_module
from prodlens.analytics.models import (
    ROLLUP_COUNTERS,
    Commit,
    DailyRollup,
    HourlyRollup,
    LlmSession,
    PullRequest,
)
from prodlens.analytics.window import Window
from prodlens.kit.clock import Clock
from prodlens.kit.db import plan_for_actual_parameters
from prodlens.kit.errors import ProblemError
from prodlens.projects.models import Project

SETTINGS_KEY = "kpi_targets"

Direction = Literal["higher_is_better", "lower_is_better"]
Status = Literal["good", "warning", "critical", "insufficient_data"]


class UnknownKpi(ProblemError):
    status, code, title = 422, "metrics.unknown_kpi", "Unknown KPI name"


class InvalidTarget(ProblemError):
    status, code, title = 422, "metrics.invalid_target", "Inconsistent KPI target"


# --- window and filters ----------------------------------------------------------------


def resolve_window(since: datetime | None, until: datetime | None, *, now: datetime) -> Window:
    """KPIs use a rolling window: until defaults to now, since to 30 days before it."""
    return window_module.resolve_window(since, until, now=now, rolling=True)


@dataclass(frozen=True)
class Filters:
    developer: str | None = None
    model: str | None = None


def rollup_conditions(
    table: type[HourlyRollup] | type[DailyRollup],
    project_id: str,
    start: datetime,
    until: datetime,
    filters: Filters,
) -> list[ColumnElement[bool]]:
    conditions = [
        table.project_id == project_id,
        table.period_start >= start,
        table.period_start < until,
    ]
    if filters.developer is not None:
        conditions.append(table.developer_id == filters.developer)
    if filters.model is not None:
        conditions.append(table.model == filters.model)
    return conditions


def session_conditions(
    project_id: str, start: datetime, until: datetime, filters: Filters
) -> list[ColumnElement[bool]]:
    conditions = [
        LlmSession.project_id == project_id,
        LlmSession.started_at >= start,
        LlmSession.started_at < until,
    ]
    if filters.developer is not None:
        conditions.append(LlmSession.developer_id == filters.developer)
    return conditions


def _author_is(column: Any, developer: str | None) -> list[ColumnElement[bool]]:
    """Delivery data is attributed by author login; a developer id equal to the
    GitHub login lines the two up (case-insensitively, as GitHub logins are)."""
    return [] if developer is None else [func.lower(column) == developer.lower()]


# --- model policy ----------------------------------------------------------------------


def _base_model(name: str) -> str:
    return name.strip().lower().rsplit("/", 1)[-1]


def model_allowed(model: str, allowed: Sequence[str]) -> bool:
    """Case-insensitive, provider prefix ignored ("openai/gpt-4o" is "gpt-4o"); an
    entry ending in `*` allows every model starting with it ("claude-sonnet-4*")."""
    name = _base_model(model)
    for entry in allowed:
        pattern = _base_model(entry)
        if pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


# --- raw metrics -----------------------------------------------------------------------


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


def _number(value: Any) -> float:
    return float(value or 0)


async def _rollup_sums(
    session: AsyncSession, project: Project, window: Window, filters: Filters
) -> dict[str, Any]:
    conditions = rollup_conditions(
        HourlyRollup, project.id, window.hour_start, window.until, filters
    )
    known = HourlyRollup.developer_id != ""
    columns = [
        *(func.sum(getattr(HourlyRollup, name)).label(name) for name in ROLLUP_COUNTERS),
        *(func.sum(getattr(HourlyRollup, name)).label(name) for name in latency.COLUMNS),
        func.sum(case((known, HourlyRollup.cost_usd), else_=0)).label("developer_cost_usd"),
        func.count(distinct(case((known, HourlyRollup.developer_id)))).label("developers"),
    ]
    row = (await session.execute(select(*columns).where(*conditions))).one()
    return dict(row._mapping)


async def _count(session: AsyncSession, statement: Select[Any]) -> int:
    return int(await session.scalar(statement) or 0)


async def _distinct_developer_periods(
    session: AsyncSession,
    table: type[HourlyRollup] | type[DailyRollup],
    conditions: list[ColumnElement[bool]],
) -> int:
    pairs = (
        select(table.developer_id, table.period_start)
        .where(*conditions, table.developer_id != "", table.events > 0)
        .distinct()
        .subquery()
    )
    return await _count(session, select(func.count()).select_from(pairs))


async def _policy_counts(
    session: AsyncSession, project: Project, window: Window, filters: Filters
) -> tuple[int, int]:
    """(calls with a known model, of which allowed): grouped by model, so O(models)."""
    rows = await session.execute(
        select(HourlyRollup.model, func.sum(HourlyRollup.events))
        .where(
            *rollup_conditions(HourlyRollup, project.id, window.hour_start, window.until, filters),
            HourlyRollup.model != "",
        )
        .group_by(HourlyRollup.model)
    )
    calls = compliant = 0
    for model, events in rows.all():
        calls += int(events or 0)
        # No policy: every model is allowed (Project.allowed_models empty means "any").
        if not project.allowed_models or model_allowed(model, project.allowed_models):
            compliant += int(events or 0)
    return calls, compliant


async def _delivery(
    session: AsyncSession, project: Project, window: Window, filters: Filters
) -> dict[str, Any]:
    since, until = window.since, window.until
    commits = await _count(
        session,
        select(func.count()).where(
            Commit.project_id == project.id,
            Commit.committed_at >= since,
            Commit.committed_at < until,
            *_author_is(Commit.author, filters.developer),
        ),
    )
    mine = [
        PullRequest.project_id == project.id,
        *_author_is(PullRequest.author, filters.developer),
    ]
    created = and_(PullRequest.created_at >= since, PullRequest.created_at < until)
    merged = and_(PullRequest.merged_at >= since, PullRequest.merged_at < until)
    resolved_at = func.coalesce(PullRequest.merged_at, PullRequest.closed_at)
    prs_opened = await _count(session, select(func.count()).where(*mine, created))
    prs_seen = await _count(session, select(func.count()).where(*mine, or_(created, merged)))
    # O(merged pull requests): the median needs each duration.
    merged_rows = (
        await session.execute(
            select(PullRequest.created_at, PullRequest.merged_at).where(*mine, merged)
        )
    ).all()
    hours = [
        (merged_at - created_at) / timedelta(hours=1)
        for created_at, merged_at in merged_rows
        if merged_at is not None  # always, given the filter; says so to the type checker
    ]
    resolved = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((PullRequest.reopened_count > 0, 1), else_=0)),
            ).where(
                *mine,
                PullRequest.state != "open",
                resolved_at >= since,
                resolved_at < until,
            )
        )
    ).one()
    return {
        "commits": commits,
        "prs_opened": prs_opened,
        "prs_merged": len(hours),
        "prs_seen": prs_seen,
        "prs_resolved": int(resolved[0] or 0),
        "prs_reworked": int(resolved[1] or 0),
        "pr_merge_hours_median": statistics.median(hours) if hours else None,
    }


async def raw_metrics(
    session: AsyncSession, project: Project, window: Window, filters: Filters
) -> RawMetrics:
    await plan_for_actual_parameters(session)
    sums = await _rollup_sums(session, project, window, filters)
    hourly = rollup_conditions(HourlyRollup, project.id, window.hour_start, window.until, filters)
    daily = rollup_conditions(DailyRollup, project.id, window.day_start, window.until, filters)
    sessions = developer_sessions = None
    if filters.model is None:  # sessions span models: a model filter cannot apply to them
        counts = (
            await session.execute(
                select(func.count(), func.count(LlmSession.developer_id)).where(
                    *session_conditions(project.id, window.hour_start, window.until, filters)
                )
            )
        ).one()
        sessions, developer_sessions = int(counts[0]), int(counts[1])
    policy_calls, compliant_calls = await _policy_counts(session, project, window, filters)
    events = int(sums["events"] or 0)
    accepted, rejected = int(sums["accepted"] or 0), int(sums["rejected"] or 0)
    latency_count = int(sums["latency_count"] or 0)
    return RawMetrics(
        project_id=project.id,
        since=window.since,
        until=window.until,
        developer=filters.developer,
        model=filters.model,
        events=events,
        errors=int(sums["errors"] or 0),
        accepted=accepted,
        rejected=rejected,
        acceptance_unknown=events - accepted - rejected,
        input_tokens=int(sums["input_tokens"] or 0),
        output_tokens=int(sums["output_tokens"] or 0),
        cache_read_tokens=int(sums["cache_read_tokens"] or 0),
        cache_creation_tokens=int(sums["cache_creation_tokens"] or 0),
        total_tokens=int(sums["total_tokens"] or 0),
        cost_usd=_number(sums["cost_usd"]),
        developer_cost_usd=_number(sums["developer_cost_usd"]),
        lines_suggested=int(sums["lines_suggested"] or 0),
        lines_accepted=int(sums["lines_accepted"] or 0),
        latency_count=latency_count,
        latency_mean_ms=(
            _number(sums["latency_ms_sum"]) / latency_count if latency_count else None
        ),
        latency_histogram=[int(sums[name] or 0) for name in latency.COLUMNS],
        latency_edges_ms=list(latency.EDGES_MS),
        active_developers=int(sums["developers"] or 0),
        active_developer_hours=await _distinct_developer_periods(session, HourlyRollup, hourly),
        developer_days=await _distinct_developer_periods(session, DailyRollup, daily),
        sessions=sessions,
        developer_sessions=developer_sessions,
        policy_active=bool(project.allowed_models),
        policy_calls=policy_calls,
        compliant_calls=compliant_calls,
        **await _delivery(session, project, window, filters),
    )


# --- definitions and targets -----------------------------------------------------------


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
    KpiDefinition("latency_p95", "Latency p95", "ms", LOWER, 5000, 10000, 20),
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
)
BY_NAME: dict[str, KpiDefinition] = {kpi.name: kpi for kpi in KPIS}


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


@dataclass(frozen=True)
class Target:
    good: float
    warning: float
    min_sample: int


def _merged(kpi: KpiDefinition, override: Mapping[str, Any]) -> Target:
    good = override.get("good")
    warning = override.get("warning")
    min_sample = override.get("min_sample")
    return Target(
        kpi.good if good is None else float(good),
        kpi.warning if warning is None else float(warning),
        kpi.min_sample if min_sample is None else int(min_sample),
    )


def _overrides(project: Project) -> dict[str, dict[str, Any]]:
    stored = (project.settings or {}).get(SETTINGS_KEY) or {}
    # A name no longer defined (a KPI renamed in an upgrade) is ignored, not fatal.
    return {name: dict(value) for name, value in stored.items() if name in BY_NAME}


def effective_targets(project: Project) -> dict[str, Target]:
    overrides = _overrides(project)
    return {kpi.name: _merged(kpi, overrides.get(kpi.name, {})) for kpi in KPIS}


def targets_public(project: Project) -> TargetsPublic:
    overrides = _overrides(project)
    targets = effective_targets(project)
    return TargetsPublic(
        targets=[
            TargetPublic(
                name=kpi.name,
                label=kpi.label,
                unit=kpi.unit,
                direction=kpi.direction,
                good=targets[kpi.name].good,
                warning=targets[kpi.name].warning,
                min_sample=targets[kpi.name].min_sample,
                customized=kpi.name in overrides,
            )
            for kpi in KPIS
        ]
    )


def _check(kpi: KpiDefinition, target: Target) -> None:
    if kpi.ratio and max(target.good, target.warning) > 1:
        raise InvalidTarget(
            f"{kpi.name} is a ratio: its thresholds lie between 0 and 1.",
            extra={"kpi": kpi.name},
        )
    consistent = (
        target.good >= target.warning if kpi.direction == HIGHER else target.good <= target.warning
    )
    if not consistent:
        relation = "at least" if kpi.direction == HIGHER else "at most"
        raise InvalidTarget(
            f"{kpi.name} is {kpi.direction.replace('_', ' ')}: good must be {relation} warning "
            f"(got good={target.good:g}, warning={target.warning:g}).",
            extra={"kpi": kpi.name},
        )


async def set_targets(
    session: AsyncSession, project: Project, update: TargetsUpdate, *, clock: Clock
) -> TargetsPublic:
    unknown = sorted(set(update.targets) - BY_NAME.keys())
    if unknown:
        raise UnknownKpi(
            f"Unknown KPI: {', '.join(unknown)}.",
            extra={"unknown": unknown, "allowed": [kpi.name for kpi in KPIS]},
        )
    stored: dict[str, dict[str, Any]] = {}
    for name, override in update.targets.items():
        values = override.model_dump(exclude_none=True)
        _check(BY_NAME[name], _merged(BY_NAME[name], values))
        stored[name] = values
    # Re-read the settings with the row locked: other writers (the GitHub secret) keep
    # their keys. A new dict, so the JSON column is seen as changed.
    await session.refresh(project, attribute_names=["settings"], with_for_update=True)
    project.settings = {**(project.settings or {}), SETTINGS_KEY: stored}
    project.updated_at = clock.now()
    await session.flush()
    return targets_public(project)


# --- KPI values ------------------------------------------------------------------------


class Kpi(BaseModel):
    name: str
    label: str
    value: float | None = Field(description="Null when the KPI cannot be computed.")
    unit: str
    target: float = Field(description="The good threshold.")
    warning_threshold: float = Field(description="Beyond this (in the wrong direction): critical.")
    direction: Direction
    status: Status
    sample_size: int
    min_sample: int


class KpiReport(BaseModel):
    project_id: str
    since: datetime
    until: datetime
    developer: str | None
    model: str | None
    kpis: list[Kpi]


def status_of(
    value: float | None, sample_size: int, target: Target, direction: Direction
) -> Status:
    if value is None or sample_size < target.min_sample:
        return "insufficient_data"
    if direction == HIGHER:
        good, warning = value >= target.good, value >= target.warning
    else:
        good, warning = value <= target.good, value <= target.warning
    return "good" if good else "warning" if warning else "critical"


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def kpi_values(raw: RawMetrics, window: Window) -> dict[str, tuple[float | None, int]]:
    """(value, sample size) per KPI, from the raw sums alone."""
    histogram = raw.latency_histogram
    merge_hours = raw.pr_merge_hours_median
    return {
        "sessions_per_developer_hour": (
            _ratio(raw.developer_sessions, raw.active_developer_hours)
            if raw.developer_sessions is not None
            else None,
            raw.active_developer_hours if raw.developer_sessions is not None else 0,
        ),
        "acceptance_rate": (
            _ratio(raw.accepted, raw.accepted + raw.rejected),
            raw.accepted + raw.rejected,
        ),
        "error_rate": (_ratio(raw.errors, raw.events), raw.events),
        "latency_p50": (latency.percentile(histogram, 0.50), raw.latency_count),
        "latency_p95": (latency.percentile(histogram, 0.95), raw.latency_count),
        "tokens_per_accepted_line": (
            _ratio(raw.total_tokens, raw.lines_accepted),
            raw.lines_accepted,
        ),
        "cost_per_merged_pr": (_ratio(raw.cost_usd, raw.prs_merged), raw.prs_merged),
        "model_policy_compliance": (
            _ratio(raw.compliant_calls, raw.policy_calls),
            raw.policy_calls,
        ),
        "pr_throughput": (raw.prs_merged / window.weeks, raw.prs_seen),
        "commit_frequency": (raw.commits / window.length_days, raw.commits),
        "pr_merge_time": (merge_hours, raw.prs_merged),
        "rework_rate": (_ratio(raw.prs_reworked, raw.prs_resolved), raw.prs_resolved),
        "cache_hit_ratio": (
            _ratio(raw.cache_read_tokens, raw.input_tokens + raw.cache_read_tokens),
            raw.events,
        ),
        "cost_per_developer_day": (
            _ratio(raw.developer_cost_usd, raw.developer_days),
            raw.developer_days,
        ),
    }


def build_report(raw: RawMetrics, window: Window, targets: Mapping[str, Target]) -> KpiReport:
    values = kpi_values(raw, window)
    kpis = []
    for kpi in KPIS:
        value, sample_size = values[kpi.name]
        if value is not None and not math.isfinite(value):
            value = None
        target = targets[kpi.name]
        kpis.append(
            Kpi(
                name=kpi.name,
                label=kpi.label,
                value=value,
                unit=kpi.unit,
                target=target.good,
                warning_threshold=target.warning,
                direction=kpi.direction,
                status=status_of(value, sample_size, target, kpi.direction),
                sample_size=sample_size,
                min_sample=target.min_sample,
            )
        )
    return KpiReport(
        project_id=raw.project_id,
        since=window.since,
        until=window.until,
        developer=raw.developer,
        model=raw.model,
        kpis=kpis,
    )


async def compute_kpis(
    session: AsyncSession, project: Project, window: Window, filters: Filters
) -> KpiReport:
    raw = await raw_metrics(session, project, window, filters)
    return build_report(raw, window, effective_targets(project))
