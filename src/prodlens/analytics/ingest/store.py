"""Storing a batch of normalized events: idempotent insert, rollups, latency sketches
and sessions, all in the caller's transaction (so a 2xx answer means everything is durable).

Retries never duplicate: events are inserted with ON CONFLICT DO NOTHING on
(project, event_id), and only the rows actually inserted feed the rollups.

Every statement is executed once with a list of parameter sets (executemany):
its SQL is compiled once and cached, and SQLAlchemy batches the rows into
multi-row VALUES ("insertmanyvalues") within each database's parameter limits.
Building `.values([...])` per batch instead compiled a new statement of about
15,000 bound parameters every time, most of ingest's CPU.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.models import (
    ROLLUP_COUNTERS,
    DailyRollup,
    DailySketch,
    Event,
    HourlyRollup,
    HourlySketch,
    LlmSession,
)
from prodlens.analytics.rollups import group_of, period_start, rollup_counts, sketch_bins
from prodlens.kit.db import dialect_insert, insert_ignoring_conflicts

_ROLLUP_KEY = ("project_id", "period_start", "developer_id", "model")
_SKETCH_KEY = (*_ROLLUP_KEY, "kind", "bin")
_SESSION_SUMS = (
    "events",
    "errors",
    "accepted",
    "rejected",
    "total_tokens",
    "cost_usd",
    "latency_ms_sum",
)


@dataclass(frozen=True)
class StoreResult:
    inserted: set[str]  # event_ids newly stored; the others were already there


async def store_events(
    session: AsyncSession, project_id: str, rows: Sequence[dict[str, Any]]
) -> StoreResult:
    """Insert the events of one batch (unique `event_id`s) and fold the new ones into
    the rollups and sessions."""
    if not rows:
        return StoreResult(set())
    table = Event.__table__
    statement = insert_ignoring_conflicts(
        session, Event, index_elements=["project_id", "event_id"]
    ).returning(table.c.event_id)
    result = await session.execute(statement, [{**row, "project_id": project_id} for row in rows])
    inserted = set(result.scalars())
    new_rows = [row for row in rows if row["event_id"] in inserted]
    await _fold_rollups(session, project_id, new_rows)
    await _fold_sessions(session, project_id, new_rows)
    return StoreResult(inserted)


async def _fold_rollups(
    session: AsyncSession, project_id: str, rows: Sequence[dict[str, Any]]
) -> None:
    """Add the batch to the hourly and daily rollups and sketches: its sums per key,
    one upsert per table. Keys leave out the project (the batch's own) until written."""
    hourly: dict[tuple[Any, ...], dict[str, Any]] = {}
    hourly_bins: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        key = (period_start(row["started_at"], "hour"), *group_of(row))
        _add(hourly, key, rollup_counts(row))
        for kind_bin in sketch_bins(row):
            hourly_bins[(*key, *kind_bin)] += 1
    # A day's sums are its hours' sums: folded from the (fewer) hourly keys.
    daily: dict[tuple[Any, ...], dict[str, Any]] = {}
    for (hour, *group), sums in hourly.items():
        _add(daily, (period_start(hour, "day"), *group), sums)
    daily_bins: Counter[tuple[Any, ...]] = Counter()
    for (hour, *rest), count in hourly_bins.items():
        daily_bins[(period_start(hour, "day"), *rest)] += count
    for rollup, sketch, totals, bins in (
        (HourlyRollup, HourlySketch, hourly, hourly_bins),
        (DailyRollup, DailySketch, daily, daily_bins),
    ):
        if not totals:
            continue
        # In key order, so concurrent batches lock shared rows in the same order (no deadlock).
        values = [
            dict(zip(_ROLLUP_KEY, (project_id, *key), strict=True)) | sums
            for key, sums in sorted(totals.items())
        ]
        await _upsert_adding(session, rollup, _ROLLUP_KEY, ROLLUP_COUNTERS, values)
        if bins:
            await _upsert_bins(session, sketch, project_id, sorted(bins.items()))


def _add(
    totals: dict[tuple[Any, ...], dict[str, Any]], key: tuple[Any, ...], counts: dict[str, Any]
) -> None:
    sums = totals.get(key)
    if sums is None:
        totals[key] = dict(counts)
    else:
        for name, value in counts.items():
            sums[name] += value


async def _upsert_adding(
    session: AsyncSession,
    model: type[HourlyRollup | DailyRollup | HourlySketch | DailySketch],
    key: Sequence[str],
    sums: Sequence[str],
    values: list[dict[str, Any]],
) -> None:
    """INSERT the rows, or add their sums to the rows already there."""
    table = model.__table__
    insert = dialect_insert(session, model)
    statement = insert.on_conflict_do_update(
        index_elements=list(key),
        set_={name: table.c[name] + insert.excluded[name] for name in sums},
    )
    await session.execute(statement, values)


async def _upsert_bins(
    session: AsyncSession,
    model: type[HourlySketch | DailySketch],
    project_id: str,
    bins: list[tuple[tuple[Any, ...], int]],
) -> None:
    """`_upsert_adding` for bin counts, compiled once and run on the driver with tuples:
    about four bins per event (two kinds, two tables) made SQLAlchemy's per-row
    parameter handling a third of their cost. Only the period needs converting for
    the driver, and a batch has few: each is converted once."""
    table = model.__table__
    dialect = session.get_bind().dialect
    insert = dialect_insert(session, model)
    statement = insert.on_conflict_do_update(
        index_elements=list(_SKETCH_KEY), set_={"count": table.c.count + insert.excluded.count}
    )
    names = [*_SKETCH_KEY, "count"]
    compiled = statement.compile(dialect=dialect, column_keys=names)
    to_driver = table.c.period_start.type.dialect_impl(dialect).bind_processor(dialect)
    periods = {key[0]: key[0] for key, _ in bins}
    if to_driver is not None:
        periods = {moment: to_driver(moment) for moment in periods}
    # Each row as (project, period, developer, model, kind, bin, count), in SQL's order.
    order = [names.index(name) for name in compiled.positiontup or ()]
    rows = [(project_id, periods[key[0]], *key[1:], count) for key, count in bins]
    if order != list(range(len(names))):
        rows = [tuple(row[index] for index in order) for row in rows]
    connection = await session.connection()
    await connection.exec_driver_sql(compiled.string, rows)


async def _fold_sessions(
    session: AsyncSession, project_id: str, rows: Sequence[dict[str, Any]]
) -> None:
    sessions: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["session_id"] or row["status"] == "refused":  # refused: no model call
            continue
        ended = row["ended_at"] or row["started_at"]
        current = sessions.get(row["session_id"])
        if current is None:
            current = sessions[row["session_id"]] = {
                "project_id": project_id,
                "session_id": row["session_id"],
                "developer_id": row["developer_id"],
                "started_at": row["started_at"],
                "ended_at": ended,
                **dict.fromkeys(_SESSION_SUMS, 0),
            }
        current["started_at"] = min(current["started_at"], row["started_at"])
        current["ended_at"] = max(current["ended_at"], ended)
        current["developer_id"] = current["developer_id"] or row["developer_id"]
        counts = rollup_counts(row)
        for name in _SESSION_SUMS:
            current[name] += counts[name]
    if not sessions:
        return
    table = LlmSession.__table__
    insert = dialect_insert(session, LlmSession)
    postgres = session.get_bind().dialect.name == "postgresql"
    # PostgreSQL's LEAST/GREATEST are SQLite's two-argument min/max.
    least, greatest = (func.least, func.greatest) if postgres else (func.min, func.max)
    statement = insert.on_conflict_do_update(
        index_elements=["project_id", "session_id"],
        set_={
            **{name: table.c[name] + insert.excluded[name] for name in _SESSION_SUMS},
            "started_at": least(table.c.started_at, insert.excluded.started_at),
            "ended_at": greatest(table.c.ended_at, insert.excluded.ended_at),
            "developer_id": func.coalesce(table.c.developer_id, insert.excluded.developer_id),
        },
    )
    # In key order, as above.
    await session.execute(statement, [sessions[key] for key in sorted(sessions)])
