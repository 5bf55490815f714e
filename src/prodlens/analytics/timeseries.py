"""Zero-filled time series of one metric, by hour (hourly rollups and sketches) or by
day or ISO week (daily ones), so a series costs O(buckets), or O(buckets x bins) for a
percentile, never O(events). A bucket is a whole hour, UTC day or ISO week: the ones
holding `since` and `until` are counted whole (rollups are not split)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import formulas, sketches
from prodlens.analytics.identities import load_identity_map, with_identities
from prodlens.analytics.kpis.conditions import Filters, rollup_conditions, session_conditions
from prodlens.analytics.models import (
    ROLLUP_COUNTERS,
    DailyRollup,
    DailySketch,
    HourlyRollup,
    HourlySketch,
    LlmSession,
)
from prodlens.analytics.schemas import Interval, MetricName, TimeSeries, TimeSeriesPoint
from prodlens.analytics.window import Window, floor_day, floor_hour
from prodlens.kit.errors import ProblemError
from prodlens.projects.models import Project

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)

METRICS: tuple[str, ...] = get_args(MetricName)
MAX_BUCKETS = 2000
STEPS: dict[str, timedelta] = {"hour": HOUR, "day": DAY, "week": WEEK}


class TooManyBuckets(ProblemError):
    status, code, title = 422, "metrics.too_many_buckets", "Too many buckets for this interval"


class UnsupportedFilter(ProblemError):
    status, code, title = 422, "metrics.unsupported_filter", "This metric cannot take that filter"


@dataclass
class _Bucket:
    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    developers: set[str] = field(default_factory=set)
    bins: Counter[int] = field(default_factory=Counter)  # of the metric's sketch kind


def _percentile(share: float) -> Callable[[_Bucket], float | None]:
    return lambda bucket: sketches.quantile(bucket.bins, share)


def _total(name: str) -> Callable[[_Bucket], float | None]:
    return lambda bucket: formulas.counter_value(name, bucket.sums[name])


@dataclass(frozen=True)
class _Metric:
    unit: str
    columns: tuple[str, ...]  # rollup columns summed per bucket
    value: Callable[[_Bucket], float | None]
    sketch: str | None = None  # the kind of sketch bins counted per bucket


_DEFINITIONS: dict[str, _Metric] = {
    **{
        name: _Metric(formulas.COUNTER_UNITS[name], (name,), _total(name))
        for name in METRICS
        if name in ROLLUP_COUNTERS
    },
    "acceptance_rate": _Metric(
        "ratio",
        ("accepted", "rejected"),
        lambda bucket: formulas.acceptance_rate(bucket.sums["accepted"], bucket.sums["rejected"]),
    ),
    "error_rate": _Metric(
        "ratio",
        ("errors", "events"),
        lambda bucket: formulas.error_rate(bucket.sums["errors"], bucket.sums["events"]),
    ),
    **{
        f"{kind}_p{p}": _Metric("ms", (), _percentile(p / 100), sketch=kind)
        for kind in sketches.KINDS
        for p in sketches.PERCENTILES
    },
    "active_developers": _Metric("developers", (), lambda bucket: len(bucket.developers)),
    "sessions": _Metric("sessions", (), lambda bucket: int(bucket.sums["sessions"])),
}
assert set(_DEFINITIONS) == set(METRICS)


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    if interval == "hour":
        return floor_hour(moment)
    day = floor_day(moment)
    return day if interval == "day" else day - timedelta(days=day.weekday())  # ISO: Monday


def bucket_starts(window: Window, interval: Interval) -> list[datetime]:
    first = bucket_start(window.since, interval)
    step = STEPS[interval]
    count = math.ceil((window.until - first) / step)
    if count > MAX_BUCKETS:
        raise TooManyBuckets(
            f"{count} {interval} buckets; at most {MAX_BUCKETS}: use a longer interval "
            "or a shorter window.",
            extra={"buckets": count, "max_buckets": MAX_BUCKETS},
        )
    return [first + step * index for index in range(count)]


def _truncated(session: AsyncSession, column: Any, unit: str) -> ColumnElement[str]:
    """`column` cut to its UTC hour or day, as 'YYYY-MM-DD HH:00:00' text on either
    database, so sessions are counted per bucket in SQL rather than row by row."""
    if session.get_bind().dialect.name == "postgresql":
        pattern = "YYYY-MM-DD HH24:00:00" if unit == "hour" else "YYYY-MM-DD 00:00:00"
        return func.to_char(func.timezone("UTC", column), pattern)
    pattern = "%Y-%m-%d %H:00:00" if unit == "hour" else "%Y-%m-%d 00:00:00"
    return func.strftime(pattern, column)


async def timeseries(
    session: AsyncSession,
    project: Project,
    window: Window,
    filters: Filters,
    *,
    metric: MetricName,
    interval: Interval,
) -> TimeSeries:
    definition = _DEFINITIONS[metric]
    links = await load_identity_map(session, project.id)
    filters = with_identities(filters, links)
    starts = bucket_starts(window, interval)
    buckets = {start: _Bucket() for start in starts}
    table = HourlyRollup if interval == "hour" else DailyRollup
    unit = "hour" if interval == "hour" else "day"
    # Rollups cannot be split: the bucket holding `since` is counted whole.
    data_start = floor_hour(window.since) if unit == "hour" else floor_day(window.since)
    conditions = rollup_conditions(table, project.id, data_start, window.until, filters)

    if definition.columns:
        rows = await session.execute(
            select(
                table.period_start,
                *(func.sum(getattr(table, name)) for name in definition.columns),
            )
            .where(*conditions)
            .group_by(table.period_start)
        )
        for period_start, *sums in rows.all():
            bucket = buckets[bucket_start(period_start, interval)]
            for name, value in zip(definition.columns, sums, strict=True):
                bucket.sums[name] += float(value or 0)
    if definition.sketch is not None:
        sketch = HourlySketch if interval == "hour" else DailySketch
        bins = await session.execute(
            select(sketch.period_start, sketch.bin, func.sum(sketch.count))
            .where(
                *rollup_conditions(sketch, project.id, data_start, window.until, filters),
                sketch.kind == definition.sketch,
            )
            .group_by(sketch.period_start, sketch.bin)
        )
        for period_start, key, count in bins.all():
            buckets[bucket_start(period_start, interval)].bins[key] += int(count)
    if metric == "active_developers":
        pairs = await session.execute(
            select(table.period_start, table.developer_id)
            .where(*conditions, table.developer_id != "", table.events > 0)
            .distinct()
        )
        for period_start, identity in pairs.all():
            buckets[bucket_start(period_start, interval)].developers.add(
                links.developer_of(identity)
            )
    if metric == "sessions":
        if filters.model is not None:
            raise UnsupportedFilter("Sessions span models: the sessions series takes no model.")
        period = _truncated(session, LlmSession.started_at, unit)
        counts = await session.execute(
            select(period, func.count())
            .where(*session_conditions(project.id, data_start, window.until, filters))
            .group_by(period)
        )
        for text, count in counts.all():
            moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
            buckets[bucket_start(moment, interval)].sums["sessions"] += count

    return TimeSeries(
        metric=metric,
        unit=definition.unit,
        interval=interval,
        since=window.since,
        until=window.until,
        developer=filters.developer,
        model=filters.model,
        points=[
            TimeSeriesPoint(start=start, value=definition.value(buckets[start])) for start in starts
        ],
    )
