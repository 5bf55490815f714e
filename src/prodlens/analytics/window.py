"""Time windows for the analytics views and zero-filled daily series from the rollups.

KPIs and raw metrics count exactly `[since, until)` (`usage_spans`). Daily views
(profiles, insights, timeseries exports) read the daily rollups, so they cover
whole UTC days: every day the window touches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.models import ROLLUP_COUNTERS, DailyRollup, HourlyRollup
from prodlens.kit.errors import ProblemError

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Far from datetime's limits, so date arithmetic on odd input is a 422, never an
# OverflowError (a 500).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class InvalidWindow(ProblemError):
    status, code, title = 422, "analytics.invalid_window", "Invalid time window"


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    hour = floor_hour(moment)
    return hour if hour == moment else hour + timedelta(hours=1)


def ceil_day(moment: datetime) -> datetime:
    day = floor_day(moment)
    return day if day == moment else day + timedelta(days=1)


Span = tuple[datetime, datetime]  # [start, end)


@dataclass(frozen=True)
class UsageSpans:
    """How usage data of exactly `[since, until)` is read: whole UTC days from the daily
    tables, the window's other whole hours from the hourly ones, and the partial hours
    at either edge from the events themselves. The parts do not overlap and together
    are the window; `whole_hours` is `days` and `hours` together."""

    days: Span | None
    hours: tuple[Span, ...]  # at most two: before and after the whole days
    partial: tuple[Span, ...]  # at most two: the edges that are not on the hour
    whole_hours: Span | None


def usage_spans(since: datetime, until: datetime) -> UsageSpans:
    first_hour, end_hour = ceil_hour(since), floor_hour(until)
    if first_hour >= end_hour:  # no whole hour: within one hour, or across one boundary
        return UsageSpans(None, (), ((since, until),), None)
    partial = tuple(span for span in ((since, first_hour), (end_hour, until)) if span[0] < span[1])
    first_day, end_day = ceil_day(first_hour), floor_day(end_hour)
    if first_day >= end_day:
        return UsageSpans(None, ((first_hour, end_hour),), partial, (first_hour, end_hour))
    hours = tuple(
        span for span in ((first_hour, first_day), (end_day, end_hour)) if span[0] < span[1]
    )
    return UsageSpans((first_day, end_day), hours, partial, (first_hour, end_hour))


@dataclass(frozen=True)
class Window:
    """`[since, until)` in UTC. KPIs and raw metrics count exactly that (see
    `usage_spans`); time series buckets and daily views are whole hours, days or
    weeks."""

    since: datetime  # inclusive, UTC
    until: datetime  # exclusive, UTC

    @property
    def usage_spans(self) -> UsageSpans:
        return usage_spans(self.since, self.until)

    @property
    def length_days(self) -> float:
        return (self.until - self.since) / timedelta(days=1)

    @property
    def weeks(self) -> float:
        return (self.until - self.since) / timedelta(weeks=1)

    @property
    def first_day(self) -> date:
        return self.since.date()

    @property
    def last_day(self) -> date:
        # `until` is exclusive: a window ending at midnight does not touch that day.
        return (self.until - timedelta(microseconds=1)).date()

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=offset) for offset in range(count)]

    @property
    def day_start(self) -> datetime:
        return datetime.combine(self.first_day, time(), tzinfo=UTC)

    @property
    def day_end(self) -> datetime:
        """Exclusive end of the last whole day the window touches."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), tzinfo=UTC)


def bounded(name: str, value: datetime) -> datetime:
    """`value` in UTC (naive taken as UTC), within [EARLIEST, LATEST]."""
    try:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        moment = EARLIEST - timedelta(days=1)
    if not EARLIEST <= moment <= LATEST:
        raise InvalidWindow(f"`{name}` must lie between {EARLIEST.date()} and {LATEST.date()}.")
    return moment


def resolve_window(
    since: datetime | None,
    until: datetime | None,
    *,
    now: datetime,
    default_days: int = DEFAULT_DAYS,
    max_days: int = MAX_DAYS,
    rolling: bool = False,
) -> Window:
    """`until` defaults to now; `since` to the start of the day `default_days - 1` days
    before it, so the default window is `default_days` UTC days, today included (or,
    `rolling`, exactly `default_days` x 24 hours before `until`: KPIs compare like with
    like). Naive datetimes are taken as UTC."""
    end = bounded("until", until if until is not None else now)
    if since is not None:
        start = bounded("since", since)
    elif rolling:
        start = end - timedelta(days=default_days)
    else:
        first = end.date() - timedelta(days=default_days - 1)
        start = datetime.combine(first, time(), tzinfo=UTC)
    if start >= end:
        raise InvalidWindow("`since` must be before `until`.")
    if end - start > timedelta(days=max_days):
        raise InvalidWindow(
            f"The window may span at most {max_days} days.", extra={"max_days": max_days}
        )
    return Window(start, end)


def day_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, as SQL (a date or an ISO string)."""
    if dialect == "postgresql":
        # timestamptz -> UTC wall time first, whatever the connection's TimeZone is.
        return func.date(func.timezone("UTC", column))
    # SQLite stores UtcDateTime as UTC text "YYYY-MM-DD HH:MM:SS…".
    return func.date(column)


def as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def zero_filled(days: Sequence[date], values: dict[date, float]) -> list[float]:
    return [float(values.get(day, 0)) for day in days]


def in_whole_days(
    table: type[HourlyRollup] | type[DailyRollup], project_id: str, window: Window
) -> tuple[ColumnElement[bool], ...]:
    """The project's rollup rows of every whole UTC day the window touches."""
    return (
        table.project_id == project_id,
        table.period_start >= window.day_start,
        table.period_start < window.day_end,
    )


async def daily_rollup_sums(
    session: AsyncSession,
    project_id: str,
    window: Window,
    *,
    developer_ids: Sequence[str] | None = None,
    columns: Sequence[str] = ROLLUP_COUNTERS,
) -> dict[date, dict[str, float]]:
    """Per day of the window: the rollup counters summed over developers (or the
    identities of one, `developer_ids`) and models."""
    statement = (
        select(
            DailyRollup.period_start,
            *(func.sum(DailyRollup.__table__.c[name]).label(name) for name in columns),
        )
        .where(*in_whole_days(DailyRollup, project_id, window))
        .group_by(DailyRollup.period_start)
    )
    if developer_ids is not None:
        statement = statement.where(DailyRollup.developer_id.in_(developer_ids))
    sums: dict[date, dict[str, float]] = {}
    for row in await session.execute(statement):
        sums[row[0].date()] = {
            name: float(value or 0) for name, value in zip(columns, row[1:], strict=True)
        }
    return sums


def daily_series(
    days: Sequence[date], sums: dict[date, dict[str, float]], column: str
) -> list[float]:
    return [sums.get(day, {}).get(column, 0.0) for day in days]
