"""Filters and the WHERE clauses of the rollup, sketch and session tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    # The identities the developer's data is stored under (the developer's own id and
    # every identity linked to it: analytics/identities.py); empty: just `developer`.
    identities: tuple[str, ...] = ()

    @property
    def developer_ids(self) -> tuple[str, ...]:
        if self.developer is None:
            return ()
        return self.identities or (self.developer,)


def developer_condition(column: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """Rows of the filtered developer, under any of their identities (none: all rows)."""
    if filters.developer is None:
        return []
    ids = filters.developer_ids
    return [column == ids[0]] if len(ids) == 1 else [column.in_(ids)]


def period_conditions(
    table: PeriodTable, project_id: str, spans: Sequence[Span], filters: Filters
) -> list[ColumnElement[bool]]:
    """The project's rows whose period starts in one of `spans` and match the filters."""
    in_spans = [and_(table.period_start >= start, table.period_start < end) for start, end in spans]
    conditions = [table.project_id == project_id, or_(*in_spans)]
    conditions += developer_condition(table.developer_id, filters)
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
    conditions += developer_condition(LlmSession.developer_id, filters)
    return conditions
