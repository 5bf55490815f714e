"""Reading what coding assistants report about themselves (`assistant_daily`): sums per
metric over the whole UTC days of a window, by source, optionally grouped by developer
(through the identity links) or by one dimension (model, IDE, feature, language, tool,
decision, type)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.assistant_facts import parse_dimensions
from prodlens.analytics.identities import load_identity_map, with_identities
from prodlens.analytics.kpis.assistant_sums import dimension_condition, in_days
from prodlens.analytics.kpis.conditions import Filters, developer_condition
from prodlens.analytics.models import AssistantDaily
from prodlens.analytics.window import Window

AssistantSource = Literal["claude_code", "copilot", "otel"]
GroupBy = Literal["developer", "model", "ide", "feature", "language", "tool", "decision", "type"]


class AssistantGroup(BaseModel):
    source: AssistantSource
    group: str | None = Field(
        description="The developer or dimension value; null: the facts without that "
        "dimension, or every fact when nothing is grouped."
    )
    metrics: dict[str, float] = Field(description="Metric name → sum over the window.")


class AssistantUsage(BaseModel):
    project_id: str
    since: datetime
    until: datetime
    first_day: str = Field(description="The first UTC day counted (YYYY-MM-DD).")
    last_day: str = Field(description="The last UTC day counted, included.")
    developer: str | None
    source: AssistantSource | None
    group_by: GroupBy | None
    groups: list[AssistantGroup]


async def assistant_usage(
    session: AsyncSession,
    project_id: str,
    window: Window,
    filters: Filters,
    *,
    source: AssistantSource | None,
    group_by: GroupBy | None,
) -> AssistantUsage:
    links = await load_identity_map(session, project_id)
    filters = with_identities(filters, links)
    developer = links.developer_column(AssistantDaily.developer_id)
    columns: list[Any] = [AssistantDaily.source, AssistantDaily.dimensions, AssistantDaily.metric]
    if group_by == "developer":
        columns.append(developer.label("developer"))
    conditions = [AssistantDaily.project_id == project_id, *in_days(window)]
    conditions += developer_condition(AssistantDaily.developer_id, filters)
    if source is not None:
        conditions.append(AssistantDaily.source == source)
    if filters.model is not None:
        conditions.append(dimension_condition("model", filters.model))
    statement = (
        select(*columns, func.sum(AssistantDaily.value)).where(*conditions).group_by(*columns)
    )
    sums: dict[tuple[str, str | None], dict[str, float]] = {}
    for row in await session.execute(statement):
        row_source, dimensions, metric = row[0], row[1], row[2]
        if group_by == "developer":
            group = row[3] or None  # "" is an unknown developer
        elif group_by is not None:
            group = parse_dimensions(dimensions).get(group_by)
        else:
            group = None
        metrics = sums.setdefault((row_source, group), {})
        metrics[metric] = metrics.get(metric, 0.0) + float(row[-1] or 0)
    groups = [
        AssistantGroup(source=key[0], group=key[1], metrics=dict(sorted(metrics.items())))
        for key, metrics in sorted(sums.items(), key=lambda item: (item[0][0], _last(item[0][1])))
    ]
    return AssistantUsage(
        project_id=project_id,
        since=window.since,
        until=window.until,
        first_day=window.first_day.isoformat(),
        last_day=window.last_day.isoformat(),
        developer=filters.developer,
        source=source,
        group_by=group_by,
        groups=groups,
    )


def _last(group: str | None) -> tuple[bool, str]:
    return (group is None, group or "")
