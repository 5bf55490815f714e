"""Filters and the WHERE clauses of the rollup, sketch and session tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from prodlens.analytics.models import (
    DailyRollup,
    DailySketch,
    HourlyRollup,
    HourlySketch,
    LlmSession,
)
from prodlens.analytics.window import Span

# Tables keyed by (project, period_start, developer_id, model).
RollupTable = type[HourlyRollup] | type[DailyRollup]
SketchTable = type[HourlySketch] | type[DailySketch]
PeriodTable = RollupTable | SketchTable


@dataclass(frozen=True)
class Filters:
    developer: str | None = None
    model: str | None = None


def period_conditions(
    table: PeriodTable, project_id: str, spans: Sequence[Span], filters: Filters
) -> list[ColumnElement[bool]]:
    """The project's rows whose period starts in one of `spans` and match the filters."""
    in_spans = [and_(table.period_start >= start, table.period_start < end) for start, end in spans]
    conditions = [table.project_id == project_id, or_(*in_spans)]
    if filters.developer is not None:
        conditions.append(table.developer_id == filters.developer)
    if filters.model is not None:
        conditions.append(table.model == filters.model)
    return conditions


def rollup_conditions(
    table: PeriodTable, project_id: str, start: datetime, until: datetime, filters: Filters
) -> list[ColumnElement[bool]]:
    return period_conditions(table, project_id, [(start, until)], filters)


def session_conditions(
    project_id: str, start: datetime, until: datetime, filters: Filters
) -> list[ColumnElement[bool]]:
    conditions = [
        LlmSession.project_id == project_id,
        LlmSession.started_at >= start,
        LlmSession.started_at < until,
    ]
    if filters.developer is not None:
        conditions.append(LlmSession.developer_id == filters.developer)
    return conditions
