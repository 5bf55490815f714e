"""Storing a batch of normalized events: idempotent insert, rollups and sessions,
all in the caller's transaction (so a 2xx answer means everything is durable).

Retries never duplicate: events are inserted with ON CONFLICT DO NOTHING on
(project, event_id), and only the rows actually inserted feed the rollups.

Every statement is executed once with a list of parameter sets (executemany):
its SQL is compiled once and cached, and SQLAlchemy batches the rows into
multi-row VALUES ("insertmanyvalues") within each database's parameter limits.
Building `.values([...])` per batch instead compiled a new statement of about
15,000 bound parameters every time, most of ingest's CPU.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import latency
from prodlens.analytics.models import (
    ROLLUP_COUNTERS,
    DailyRollup,
    Event,
    HourlyRollup,
    LlmSession,
)
from prodlens.kit.db import dialect_insert, insert_ignoring_conflicts

_ROLLUP_KEY = ("project_id", "period_start", "developer_id", "model")
_ROLLUP_SUMS = (*ROLLUP_COUNTERS, *latency.COLUMNS)
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


def _rollup_counts(row: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, Any] = dict.fromkeys(_ROLLUP_SUMS, 0)
    counts["events"] = 1
    counts["errors"] = int(row["status"] == "error")
    counts["accepted"] = int(row["accepted"] is True)
    counts["rejected"] = int(row["accepted"] is False)
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "total_tokens",
    ):
        counts[name] = row[name]
    counts["cost_usd"] = float(row["cost_usd"] or 0)
    counts["lines_suggested"] = row["lines_suggested"] or 0
    counts["lines_accepted"] = row["lines_accepted"] or 0
    if row["latency_ms"] is not None:
        counts["latency_count"] = 1
        counts["latency_ms_sum"] = row["latency_ms"]
        counts[latency.COLUMNS[latency.bucket_of(row["latency_ms"])]] = 1
    return counts


def _period(started_at: datetime, unit: str) -> datetime:
    hour = started_at.replace(minute=0, second=0, microsecond=0)
    return hour if unit == "hour" else hour.replace(hour=0)


async def _fold_rollups(
    session: AsyncSession, project_id: str, rows: Sequence[dict[str, Any]]
) -> None:
    for model, unit in ((HourlyRollup, "hour"), (DailyRollup, "day")):
        totals: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
            lambda: dict.fromkeys(_ROLLUP_SUMS, 0)
        )
        for row in rows:
            key = (
                project_id,
                _period(row["started_at"], unit),
                row["developer_id"] or "",
                row["response_model"] or "",
            )
            for name, value in _rollup_counts(row).items():
                totals[key][name] += value
        if not totals:
            continue
        table = model.__table__
        # In key order, so concurrent batches lock shared rows in the same order (no deadlock).
        values = [
            dict(zip(_ROLLUP_KEY, key, strict=True)) | sums for key, sums in sorted(totals.items())
        ]
        insert = dialect_insert(session, model)
        statement = insert.on_conflict_do_update(
            index_elements=list(_ROLLUP_KEY),
            set_={name: table.c[name] + insert.excluded[name] for name in _ROLLUP_SUMS},
        )
        await session.execute(statement, values)


async def _fold_sessions(
    session: AsyncSession, project_id: str, rows: Sequence[dict[str, Any]]
) -> None:
    sessions: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["session_id"]:
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
        counts = _rollup_counts(row)
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
