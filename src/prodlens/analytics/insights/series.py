"""The daily series an insights report is computed from: AI activity, delivery and
cost per UTC day of the window, zero-filled, and cost per developer.

All read from the daily rollups, commits and pull requests: O(days) or O(delivery
items), never O(events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    developer_cost: dict[str, float]


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


async def load_series(session: AsyncSession, project_id: str, window: Window) -> Series:
    days = window.days
    sums = await daily_rollup_sums(session, project_id, window, columns=("events", "cost_usd"))
    commits = await _count_by_day(session, Commit.committed_at, project_id, window)
    merged = await _count_by_day(
        session, PullRequest.merged_at, project_id, window, PullRequest.merged_at.is_not(None)
    )
    developer_rows = await session.execute(
        select(DailyRollup.developer_id, func.sum(DailyRollup.cost_usd))
        .where(*in_whole_days(DailyRollup, project_id, window), DailyRollup.developer_id != "")
        .group_by(DailyRollup.developer_id)
    )
    return Series(
        days=days,
        activity=daily_series(days, sums, "events"),
        commits=zero_filled(days, commits),
        merged_prs=zero_filled(days, merged),
        daily_cost=daily_series(days, sums, "cost_usd"),
        developer_cost={developer: float(cost or 0) for developer, cost in developer_rows},
    )
