"""Usage sums (calls, tokens, cost, latency bins, developers) of exactly `[since, until)`.

Whole UTC days come from the daily rollups and sketches, the window's other whole
hours from the hourly ones, and the partial hours at its edges from `events`, folded
by the ingest code (analytics/rollups.py), so both paths count an event alike. A
query costs O(days + hours) of the window, O(developers x models) rows and O(bins),
plus the events of at most two partial hours; never O(events of the window).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import sketches
from prodlens.analytics.formulas import counter_value
from prodlens.analytics.identities import IdentityMap
from prodlens.analytics.kpis.conditions import (
    Filters,
    RollupTable,
    SketchTable,
    developer_condition,
    period_conditions,
)
from prodlens.analytics.models import (
    ROLLUP_COUNTERS,
    DailyRollup,
    DailySketch,
    Event,
    HourlyRollup,
    HourlySketch,
)
from prodlens.analytics.rollups import (
    EVENT_FIELDS,
    group_of,
    period_start,
    rollup_counts,
    sketch_bins,
)
from prodlens.analytics.window import Span, UsageSpans


@dataclass
class Usage:
    counters: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ROLLUP_COUNTERS, 0))
    developer_cost_usd: float = 0.0  # of calls with a developer
    calls_by_model: Counter[str] = field(default_factory=Counter)  # known models only
    developers: set[str] = field(default_factory=set)
    developer_hours: int = 0
    developer_days: int = 0
    # Bin counts per kind (sketches.KINDS): mergeable, any percentile of them.
    bins: dict[str, Counter[int]] = field(
        default_factory=lambda: {kind: Counter() for kind in sketches.KINDS}
    )

    def add(self, developer: str, model: str, counts: Mapping[str, float]) -> None:
        """`developer`: the developer (an identity already mapped), "" when unknown."""
        for name in ROLLUP_COUNTERS:
            self.counters[name] += counts[name]
        if developer and counts["events"]:
            self.developers.add(developer)
            self.developer_cost_usd += counts["cost_usd"]
        if model:
            self.calls_by_model[model] += int(counts["events"])


async def usage_sums(
    session: AsyncSession,
    project_id: str,
    spans: UsageSpans,
    filters: Filters,
    links: IdentityMap | None = None,
) -> Usage:
    """The window's usage; developers are counted as `links` maps identities to them."""
    links = links or IdentityMap()
    usage = Usage()
    whole: list[tuple[RollupTable, SketchTable, Sequence[Span]]] = [
        (DailyRollup, DailySketch, [spans.days] if spans.days else []),
        (HourlyRollup, HourlySketch, spans.hours),
    ]
    for rollup, sketch, parts in whole:
        if parts:
            where = period_conditions(rollup, project_id, parts, filters)
            await _add_rollups(session, usage, rollup, where, links)
            where = period_conditions(sketch, project_id, parts, filters)
            await _add_bins(session, usage, sketch, where)
    edge_hours, edge_days = await _add_edges(
        session, usage, project_id, spans.partial, filters, links
    )
    if spans.whole_hours is not None:
        hourly = period_conditions(HourlyRollup, project_id, [spans.whole_hours], filters)
        usage.developer_hours = await _developer_periods(session, HourlyRollup, hourly, links)
    usage.developer_hours += len(edge_hours)  # the edges' hours are not whole hours
    if spans.days is not None:
        daily = period_conditions(DailyRollup, project_id, [spans.days], filters)
        usage.developer_days = await _developer_periods(session, DailyRollup, daily, links)
    # The other days are never whole days: their developer-days are counted apart.
    partial_days = edge_days | await _developer_days(
        session, project_id, spans.hours, filters, links
    )
    usage.developer_days += len(partial_days)
    return usage


async def _add_rollups(
    session: AsyncSession,
    usage: Usage,
    table: RollupTable,
    conditions: Sequence[Any],
    links: IdentityMap,
) -> None:
    sums = [func.sum(table.__table__.c[name]) for name in ROLLUP_COUNTERS]
    rows = await session.execute(
        select(table.developer_id, table.model, *sums)
        .where(*conditions)
        .group_by(table.developer_id, table.model)
    )
    for developer, model, *values in rows.all():
        counts = {
            name: counter_value(name, value)
            for name, value in zip(ROLLUP_COUNTERS, values, strict=True)
        }
        usage.add(links.developer_of(developer), model, counts)


async def _add_bins(
    session: AsyncSession, usage: Usage, table: SketchTable, conditions: Sequence[Any]
) -> None:
    rows = await session.execute(
        select(table.kind, table.bin, func.sum(table.count))
        .where(*conditions)
        .group_by(table.kind, table.bin)
    )
    for kind, key, count in rows.all():
        usage.bins[kind][key] += int(count)


async def _add_edges(
    session: AsyncSession,
    usage: Usage,
    project_id: str,
    partial: Sequence[Span],
    filters: Filters,
    links: IdentityMap,
) -> tuple[set[tuple[str, datetime]], set[tuple[str, date]]]:
    """Fold the events of the partial hours in; their (developer, hour) and
    (developer, day) pairs."""
    hours: set[tuple[str, datetime]] = set()
    days: set[tuple[str, date]] = set()
    if not partial:
        return hours, days
    conditions = [
        Event.project_id == project_id,
        or_(*(and_(Event.started_at >= start, Event.started_at < end) for start, end in partial)),
    ]
    conditions += developer_condition(Event.developer_id, filters)
    if filters.model is not None:
        conditions.append(Event.response_model == filters.model)
    columns = [Event.__table__.c[name] for name in EVENT_FIELDS]
    result = await session.execute(select(*columns).where(*conditions))
    for row in result.mappings():
        identity, model = group_of(row)
        developer = links.developer_of(identity) if identity else ""
        usage.add(developer, model, rollup_counts(row))
        for kind, key in sketch_bins(row):
            usage.bins[kind][key] += 1
        if developer:
            hours.add((developer, period_start(row["started_at"], "hour")))
            days.add((developer, row["started_at"].date()))
    return hours, days


async def _developer_periods(
    session: AsyncSession, table: RollupTable, conditions: Sequence[Any], links: IdentityMap
) -> int:
    """Distinct (developer, period) pairs with calls: two identities of one developer
    active in the same hour are one developer-hour."""
    pairs = (
        select(links.developer_column(table.developer_id), table.period_start)
        .where(*conditions, table.developer_id != "", table.events > 0)
        .distinct()
        .subquery()
    )
    return int(await session.scalar(select(func.count()).select_from(pairs)) or 0)


async def _developer_days(
    session: AsyncSession,
    project_id: str,
    hours: Sequence[Span],
    filters: Filters,
    links: IdentityMap,
) -> set[tuple[str, date]]:
    """(developer, day) with calls in these whole hours (at most two partial days)."""
    if not hours:
        return set()
    rows = await session.execute(
        select(HourlyRollup.developer_id, HourlyRollup.period_start)
        .where(
            *period_conditions(HourlyRollup, project_id, hours, filters),
            HourlyRollup.developer_id != "",
            HourlyRollup.events > 0,
        )
        .distinct()
    )
    return {(links.developer_of(identity), hour.date()) for identity, hour in rows.all()}
