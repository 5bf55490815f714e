"""The raw sums KPIs are computed from (RawMetrics), in SQL.

Usage data is read by `usage.py` (rollups and sketches, and the events of the
window's partial edge hours); delivery data from `commits` and `pull_requests`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import sketches
from prodlens.analytics import window as window_module
from prodlens.analytics.formulas import counter_value, ratio
from prodlens.analytics.identities import load_identity_map, with_identities
from prodlens.analytics.kpis.assistant_sums import assistant_kpi_sums
from prodlens.analytics.kpis.conditions import Filters, session_conditions
from prodlens.analytics.kpis.usage import usage_sums
from prodlens.analytics.models import ROLLUP_COUNTERS, Commit, LlmSession, PullRequest
from prodlens.analytics.schemas import RawMetrics
from prodlens.analytics.window import Window
from prodlens.kit.db import plan_for_actual_parameters
from prodlens.projects.models import Project

# --- window and filters ----------------------------------------------------------------


def resolve_window(since: datetime | None, until: datetime | None, *, now: datetime) -> Window:
    """KPIs use a rolling window: until defaults to now, since to 30 days before it."""
    return window_module.resolve_window(since, until, now=now, rolling=True)


def _author_is(column: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """Delivery data is attributed by author login; a developer id (or a linked
    identity) equal to the GitHub login lines the two up (case-insensitively, as
    GitHub logins are)."""
    if filters.developer is None:
        return []
    return [func.lower(column).in_(sorted({name.lower() for name in filters.developer_ids}))]


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


async def _count(session: AsyncSession, statement: Select[Any]) -> int:
    return int(await session.scalar(statement) or 0)


def _policy_counts(project: Project, calls_by_model: Mapping[str, int]) -> tuple[int, int]:
    """(calls with a known model, of which allowed)."""
    calls = compliant = 0
    for model, events in calls_by_model.items():
        calls += events
        # No policy: every model is allowed (Project.allowed_models empty means "any").
        if not project.allowed_models or model_allowed(model, project.allowed_models):
            compliant += events
    return calls, compliant


def _percentiles(kind: str, bins: Mapping[int, int]) -> dict[str, float | None]:
    return {f"{kind}_p{p}_ms": sketches.quantile(bins, p / 100) for p in sketches.PERCENTILES}


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
            *_author_is(Commit.author, filters),
        ),
    )
    mine = [
        PullRequest.project_id == project.id,
        *_author_is(PullRequest.author, filters),
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
    """Exactly `[since, until)`, whatever the minutes of either edge."""
    await plan_for_actual_parameters(session)
    links = await load_identity_map(session, project.id)
    filters = with_identities(filters, links)
    usage = await usage_sums(session, project.id, window.usage_spans, filters, links)
    sessions = developer_sessions = None
    if filters.model is None:  # sessions span models: a model filter cannot apply to them
        counts = (
            await session.execute(
                select(func.count(), func.count(LlmSession.developer_id)).where(
                    *session_conditions(project.id, window.since, window.until, filters)
                )
            )
        ).one()
        sessions, developer_sessions = int(counts[0]), int(counts[1])
    policy_calls, compliant_calls = _policy_counts(project, usage.calls_by_model)
    counters: dict[str, Any] = {
        name: counter_value(name, usage.counters[name]) for name in ROLLUP_COUNTERS
    }
    latency_ms_sum = counters.pop("latency_ms_sum")  # reported as the mean
    percentiles: dict[str, Any] = {
        **_percentiles("latency", usage.bins["latency"]),
        **_percentiles("ttft", usage.bins["ttft"]),
    }
    return RawMetrics(
        project_id=project.id,
        since=window.since,
        until=window.until,
        developer=filters.developer,
        model=filters.model,
        **counters,
        acceptance_unknown=counters["events"] - counters["accepted"] - counters["rejected"],
        developer_cost_usd=usage.developer_cost_usd,
        latency_mean_ms=ratio(latency_ms_sum, counters["latency_count"]),
        **percentiles,
        ttft_count=sum(usage.bins["ttft"].values()),
        active_developers=len(usage.developers),
        active_developer_hours=usage.developer_hours,
        developer_days=usage.developer_days,
        sessions=sessions,
        developer_sessions=developer_sessions,
        policy_active=bool(project.allowed_models),
        policy_calls=policy_calls,
        compliant_calls=compliant_calls,
        **await _delivery(session, project, window, filters),
        **await assistant_kpi_sums(session, project.id, window, filters),
    )
