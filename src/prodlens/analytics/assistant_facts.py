"""Storing what coding assistants report about themselves: daily per-developer facts.

Claude Code's OpenTelemetry metrics and events, OpenTelemetry GenAI metrics and
GitHub Copilot's usage reports are aggregates, not model calls, so they live in
`assistant_daily` rather than in `events`. Two ways in:

- `add_facts`: increments (an OTLP delta, a cumulative stream's increase, one log
  event) added to what the day already holds;
- `replace_facts`: a whole report for some (day, developer) pairs (a Copilot daily
  report), which replaces what those pairs held, so importing a day twice counts it once.

Both run in the caller's transaction, in key order (concurrent batches lock shared
rows in the same order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.models import AssistantDaily
from prodlens.kit.db import dialect_insert

Source = str  # "claude_code" | "copilot" | "otel"
MAX_DIMENSIONS_LENGTH = 300

_KEY = ("project_id", "day", "developer_id", "source", "metric", "dimensions")


def dimensions_key(dimensions: Mapping[str, Any]) -> str:
    """The canonical "k=v;k=v" form, keys sorted, empty values left out ("" for none);
    cut to the column's width (labels only: a long one must not fail a report)."""
    parts = [
        f"{key}={str(value).replace(';', ',').replace('=', ':')}"
        for key, value in sorted(dimensions.items())
        if value is not None and str(value) != ""
    ]
    return ";".join(parts)[:MAX_DIMENSIONS_LENGTH]


def parse_dimensions(key: str) -> dict[str, str]:
    """The inverse of `dimensions_key`."""
    if not key:
        return {}
    return dict(part.split("=", 1) for part in key.split(";") if "=" in part)


@dataclass(frozen=True)
class Fact:
    day: date
    developer_id: str  # the identity the source reported; "" when unknown
    source: Source
    metric: str
    value: float
    dimensions: Mapping[str, Any] = field(default_factory=dict)

    def key(self, project_id: str) -> tuple[str, date, str, str, str, str]:
        return (
            project_id,
            self.day,
            self.developer_id[:128],
            self.source,
            self.metric[:64],
            dimensions_key(self.dimensions),
        )


def _summed(project_id: str, facts: Iterable[Fact]) -> dict[tuple[Any, ...], float]:
    totals: dict[tuple[Any, ...], float] = {}
    for fact in facts:
        key = fact.key(project_id)
        totals[key] = totals.get(key, 0.0) + fact.value
    return totals


def _rows(totals: Mapping[tuple[Any, ...], float], now: datetime) -> list[dict[str, Any]]:
    return [
        dict(zip(_KEY, key, strict=True)) | {"value": value, "updated_at": now}
        for key, value in sorted(totals.items())
    ]


async def add_facts(
    session: AsyncSession, project_id: str, facts: Iterable[Fact], now: datetime
) -> int:
    """Add each fact's value to its row (created at 0 when new); returns the rows touched."""
    rows = _rows(_summed(project_id, facts), now)
    if not rows:
        return 0
    table = AssistantDaily.__table__
    insert = dialect_insert(session, AssistantDaily)
    statement = insert.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={
            "value": table.c.value + insert.excluded.value,
            "updated_at": insert.excluded.updated_at,
        },
    )
    await session.execute(statement, rows)
    return len(rows)


async def replace_facts(
    session: AsyncSession,
    project_id: str,
    source: Source,
    scope: Iterable[tuple[date, str]],
    facts: Iterable[Fact],
    now: datetime,
) -> int:
    """Replace everything `source` holds for each (day, developer) of `scope` with
    `facts` (which must lie in that scope); returns the rows written."""
    pairs = sorted({(day, developer[:128]) for day, developer in scope})
    totals = _summed(project_id, facts)
    outside = {(key[1], key[2]) for key in totals} - set(pairs)
    if outside:
        raise ValueError(f"facts outside the replaced scope: {sorted(outside)[:3]}")
    # Deleted in slices: a bound parameter list stays within every database's limits.
    for start in range(0, len(pairs), 400):
        await session.execute(
            delete(AssistantDaily).where(
                AssistantDaily.project_id == project_id,
                AssistantDaily.source == source,
                tuple_(AssistantDaily.day, AssistantDaily.developer_id).in_(
                    pairs[start : start + 400]
                ),
            )
        )
    rows = _rows(totals, now)
    if rows:
        await session.execute(dialect_insert(session, AssistantDaily), rows)
    return len(rows)
