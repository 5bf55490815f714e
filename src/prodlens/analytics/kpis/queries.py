"""The raw sums KPIs are computed from (RawMetrics), in SQL.

Everything here reads the rollups (hourly and daily), `llm_sessions`, `commits`
and `pull_requests`, never the `events` table, so a query costs O(hours) or
O(days) of the window, not O(events).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import latency
from prodlens.analytics import window as window_module
from prodlens.analytics.formulas import counter_value, ratio
from prodlens.analytics.models import (
    ROLLUP_COUNTERS,
    Commit,
    DailyRollup,
    HourlyRollup,
    LlmSession,
    PullRequest,
)
from prodlens.analytics.schemas import RawMetrics
from prodlens.analytics.window import Window
from prodlens.kit.db import plan_for_actual_parameters
from prodlens.projects.models import Project

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
    counters: dict[str, Any] = {name: counter_value(name, sums[name]) for name in ROLLUP_COUNTERS}
    latency_ms_sum = counters.pop("latency_ms_sum")  # reported as the mean
    return RawMetrics(
        project_id=project.id,
        since=window.since,
        until=window.until,
        developer=filters.developer,
        model=filters.model,
        **counters,
        acceptance_unknown=counters["events"] - counters["accepted"] - counters["rejected"],
        developer_cost_usd=float(sums["developer_cost_usd"] or 0),
        latency_mean_ms=ratio(latency_ms_sum, counters["latency_count"]),
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
