"""Developers: a list with totals, and one developer's profile.

Everything but the session counts comes from the rollups, so a profile costs
O(days x models), not O(events). Events without a developer id are not a
developer and are left out of the list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from prodlens.analytics import formulas
from prodlens.analytics.identities import IdentityMap, load_identity_map
from prodlens.analytics.models import ROLLUP_COUNTERS, DailyRollup, Event, HourlyRollup, LlmSession
from prodlens.analytics.schemas import (
    WEEKDAYS,
    Acceptance,
    DailyCost,
    DeveloperProfile,
    DeveloperSummary,
    Heatmap,
    ModelShare,
    Totals,
)
from prodlens.analytics.window import Window, daily_rollup_sums, daily_series, in_whole_days
from prodlens.kit.errors import NotFound
from prodlens.kit.pagination import PageParams, order_by, paginate


class DeveloperNotFound(NotFound):
    code, title = "developers.not_found", "No events from this developer in this project"


async def _session_counts(
    session: AsyncSession,
    project_id: str,
    window: Window,
    developer_ids: list[str],
    links: IdentityMap,
) -> dict[str, int]:
    """Sessions per developer, counted under all of each developer's identities."""
    identities = [
        identity for developer in developer_ids for identity in links.identities_of(developer)
    ]
    if not identities:
        return {}
    rows = await session.execute(
        select(LlmSession.developer_id, func.count())
        .where(
            LlmSession.project_id == project_id,
            LlmSession.developer_id.in_(identities),
            LlmSession.started_at >= window.day_start,
            LlmSession.started_at < window.day_end,
        )
        .group_by(LlmSession.developer_id)
    )
    counts: dict[str, int] = {}
    for identity, count in rows:
        if identity is not None:
            developer = links.developer_of(identity)
            counts[developer] = counts.get(developer, 0) + int(count)
    return counts


# --- the list ---------------------------------------------------------------------------

_SUMS: dict[str, ColumnElement[Any]] = {
    "events": func.sum(DailyRollup.events),
    "errors": func.sum(DailyRollup.errors),
    "accepted": func.sum(DailyRollup.accepted),
    "rejected": func.sum(DailyRollup.rejected),
    "total_tokens": func.sum(DailyRollup.total_tokens),
    "cost_usd": func.sum(DailyRollup.cost_usd),
    "last_active": func.max(DailyRollup.period_start),
}
SORTABLE = ("developer_id", "events", "errors", "tokens", "cost", "last_active")


def _sortable(developer: ColumnElement[Any]) -> dict[str, ColumnElement[Any]]:
    return {
        "developer_id": developer,
        "events": _SUMS["events"],
        "errors": _SUMS["errors"],
        "tokens": _SUMS["total_tokens"],
        "cost": _SUMS["cost_usd"],
        "last_active": _SUMS["last_active"],
    }


def _list_statement(project_id: str, window: Window, developer: ColumnElement[Any]) -> Select[Any]:
    """One row per developer: identities linked to one are grouped under it."""
    return (
        select(developer, *(expr.label(name) for name, expr in _SUMS.items()))
        .where(*in_whole_days(DailyRollup, project_id, window), DailyRollup.developer_id != "")
        .group_by(developer)
        # Only refused requests (no model call): no developer of the list.
        .having(_SUMS["events"] > 0)
    )


async def list_developers(
    session: AsyncSession,
    project_id: str,
    window: Window,
    *,
    sort: str | None,
    page: PageParams,
) -> tuple[list[DeveloperSummary], int]:
    links = await load_identity_map(session, project_id)
    developer = links.developer_column(DailyRollup.developer_id)
    ordering = order_by(sort, _sortable(developer), default="-events")
    statement = _list_statement(project_id, window, developer).order_by(*ordering, developer)
    rows, total = await paginate(session, statement, page, scalars=False)
    sessions = await _session_counts(session, project_id, window, [row[0] for row in rows], links)
    summaries = []
    for row in rows:
        developer_id, events, errors, accepted, rejected, tokens, cost, last = row
        summaries.append(
            DeveloperSummary(
                developer_id=developer_id,
                events=int(events or 0),
                sessions=sessions.get(developer_id, 0),
                errors=int(errors or 0),
                total_tokens=int(tokens or 0),
                cost_usd=float(cost or 0),
                acceptance_rate=formulas.acceptance_rate(accepted or 0, rejected or 0),
                last_active=last.date() if isinstance(last, datetime) else last,
            )
        )
    return summaries, total


# --- one developer ------------------------------------------------------------------------


async def _models(
    session: AsyncSession, project_id: str, window: Window, identities: tuple[str, ...]
) -> list[ModelShare]:
    rows = list(
        await session.execute(
            select(
                DailyRollup.model,
                func.sum(DailyRollup.events),
                func.sum(DailyRollup.total_tokens),
                func.sum(DailyRollup.cost_usd),
            )
            .where(
                *in_whole_days(DailyRollup, project_id, window),
                DailyRollup.developer_id.in_(identities),
            )
            .group_by(DailyRollup.model)
        )
    )
    total = sum(int(events or 0) for _, events, _, _ in rows)
    shares = [
        ModelShare(
            model=model or None,
            events=int(events or 0),
            share=int(events or 0) / total if total else 0.0,
            total_tokens=int(tokens or 0),
            cost_usd=float(cost or 0),
        )
        for model, events, tokens, cost in rows
        if events  # refused requests alone (an unknown model): no calls to show
    ]
    return sorted(shares, key=lambda share: (-share.events, share.model or ""))


async def _heatmap(
    session: AsyncSession, project_id: str, window: Window, identities: tuple[str, ...]
) -> Heatmap:
    rows = await session.execute(
        select(HourlyRollup.period_start, func.sum(HourlyRollup.events))
        .where(
            *in_whole_days(HourlyRollup, project_id, window),
            HourlyRollup.developer_id.in_(identities),
        )
        .group_by(HourlyRollup.period_start)
    )
    counts = [[0] * 24 for _ in WEEKDAYS]
    for hour, events in rows:
        counts[hour.weekday()][hour.hour] += int(events or 0)
    return Heatmap(counts=counts)


async def developer_profile(
    session: AsyncSession, project_id: str, developer_id: str, window: Window
) -> DeveloperProfile:
    """The developer named by `developer_id` or by any identity linked to it, over all
    its identities."""
    links = await load_identity_map(session, project_id)
    developer_id = links.developer_of(developer_id)
    identities = links.identities_of(developer_id)
    known = await session.scalar(
        select(exists().where(Event.project_id == project_id, Event.developer_id.in_(identities)))
    )
    if not known:
        raise DeveloperNotFound()
    by_day = await daily_rollup_sums(session, project_id, window, developer_ids=identities)
    sums = {name: sum(day[name] for day in by_day.values()) for name in ROLLUP_COUNTERS}
    sessions = await _session_counts(session, project_id, window, [developer_id], links)
    last_active = await session.scalar(
        select(func.max(Event.started_at)).where(
            Event.project_id == project_id,
            Event.developer_id.in_(identities),
            Event.started_at < window.day_end,
        )
    )
    days = window.days
    events_by_day = daily_series(days, by_day, "events")
    cost_by_day = daily_series(days, by_day, "cost_usd")
    return DeveloperProfile(
        developer_id=developer_id,
        since=window.since,
        until=window.until,
        days=len(days),
        totals=Totals(
            events=int(sums["events"]),
            sessions=sessions.get(developer_id, 0),
            errors=int(sums["errors"]),
            error_rate=formulas.error_rate(sums["errors"], sums["events"]),
            input_tokens=int(sums["input_tokens"]),
            output_tokens=int(sums["output_tokens"]),
            total_tokens=int(sums["total_tokens"]),
            cost_usd=sums["cost_usd"],
        ),
        acceptance=Acceptance(
            accepted=int(sums["accepted"]),
            rejected=int(sums["rejected"]),
            rate=formulas.acceptance_rate(sums["accepted"], sums["rejected"]),
            lines_suggested=int(sums["lines_suggested"]),
            lines_accepted=int(sums["lines_accepted"]),
        ),
        models=await _models(session, project_id, window, identities),
        cost_trend=[
            DailyCost(date=day, events=int(events), cost_usd=cost)
            for day, events, cost in zip(days, events_by_day, cost_by_day, strict=True)
        ],
        heatmap=await _heatmap(session, project_id, window, identities),
        last_active=last_active,
    )
