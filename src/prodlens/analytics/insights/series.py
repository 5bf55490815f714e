"""The daily series an insights report is computed from: AI activity, errors,
delivery and cost per whole UTC day of the window, and events per developer and day,
all zero-filled.

All read from the daily rollups, commits and pull requests: O(days) or O(delivery
items), never O(events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.identities import load_identity_map
from prodlens.analytics.models import Commit, DailyRollup, PullRequest
from prodlens.analytics.window import (
    Window,
    as_date,
    daily_rollup_sums,
    daily_series,
    day_of,
    in_whole_days,
    zero_filled,
)


@dataclass(frozen=True)
class Series:
    days: list[date]
    activity: list[float]  # events per day
    commits: list[float]
    merged_prs: list[float]
    daily_cost: list[float]
    daily_errors: list[float]
    developer_events: dict[str, list[float]]  # per day of `days`


async def _count_by_day(
    session: AsyncSession, column: Any, project_id: str, window: Window, *conditions: Any
) -> dict[date, float]:
    day = day_of(column, session.get_bind().dialect.name)
    rows = await session.execute(
        select(day, func.count())
        .where(
            column.class_.project_id == project_id,
            column >= window.day_start,
            column < window.day_end,
            *conditions,
        )
        .group_by(day)
    )
    return {as_date(value): float(count) for value, count in rows}


def whole_days(window: Window) -> list[date]:
    """The days the window covers entirely: a partial day (today, by default) is not
    comparable with whole ones, so the statistics leave it out."""
    days = window.days
    if window.since > window.day_start:
        days = days[1:]
    if window.until < window.day_end:
        days = days[:-1]
    return days


async def load_series(session: AsyncSession, project_id: str, window: Window) -> Series:
    days = whole_days(window)
    sums = await daily_rollup_sums(
        session, project_id, window, columns=("events", "errors", "cost_usd")
    )
    commits = await _count_by_day(session, Commit.committed_at, project_id, window)
    merged = await _count_by_day(
        session, PullRequest.merged_at, project_id, window, PullRequest.merged_at.is_not(None)
    )
    # O(developers x days): one row per developer-day with any usage (identities linked
    # to a developer counted as that developer).
    developer = (await load_identity_map(session, project_id)).developer_column(
        DailyRollup.developer_id
    )
    developer_rows = await session.execute(
        select(developer, DailyRollup.period_start, func.sum(DailyRollup.events))
        .where(*in_whole_days(DailyRollup, project_id, window), DailyRollup.developer_id != "")
        .group_by(developer, DailyRollup.period_start)
    )
    position = {day: index for index, day in enumerate(days)}
    developer_events: dict[str, list[float]] = {}
    for developer, period, events in developer_rows:
        index = position.get(period.date())
        if index is None:  # a partial edge day
            continue
        developer_events.setdefault(developer, [0.0] * len(days))[index] = float(events or 0)
    return Series(
        days=days,
        activity=daily_series(days, sums, "events"),
        commits=zero_filled(days, commits),
        merged_prs=zero_filled(days, merged),
        daily_cost=daily_series(days, sums, "cost_usd"),
        daily_errors=daily_series(days, sums, "errors"),
        developer_events=developer_events,
    )
