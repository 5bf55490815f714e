"""The sums behind the coding-assistant KPIs, from `assistant_daily`: Copilot's
acceptance by activity and by lines, Claude Code's edit acceptance. Facts are daily,
so these read every whole UTC day the window touches."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.assistant_facts import dimensions_key, parse_dimensions
from prodlens.analytics.kpis.conditions import Filters, developer_condition
from prodlens.analytics.models import AssistantDaily
from prodlens.analytics.window import Window


def in_days(window: Window) -> list[ColumnElement[bool]]:
    """Facts are daily: every whole UTC day the window touches."""
    return [AssistantDaily.day >= window.first_day, AssistantDaily.day <= window.last_day]


def dimension_condition(key: str, value: str) -> ColumnElement[bool]:
    """Facts whose canonical dimensions hold `key=value` (spelled as stored)."""
    stored = dimensions_key({key: value})
    escaped = stored.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    wrapped = literal(";") + AssistantDaily.dimensions + literal(";")
    return wrapped.like(f"%;{escaped};%", escape="\\")


KPI_METRICS = {
    "copilot": ("code_generations", "code_acceptances", "lines_suggested_added", "lines_added"),
    "claude_code": ("edit_decisions",),
}
# Lines Copilot's agent writes straight into files: counted in `lines_added` but never
# suggested (`loc_suggested_to_add_sum` leaves agent edits out), so not in the
# acceptance by lines.
AGENT_EDIT_FEATURE = "agent_edit"


async def assistant_kpi_sums(
    session: AsyncSession, project_id: str, window: Window, filters: Filters
) -> dict[str, int]:
    """The sums of the assistant KPIs (`filters` with the developer's identities)."""
    conditions = [AssistantDaily.project_id == project_id, *in_days(window)]
    conditions += developer_condition(AssistantDaily.developer_id, filters)
    if filters.model is not None:
        conditions.append(dimension_condition("model", filters.model))
    wanted = [
        (AssistantDaily.source == source) & AssistantDaily.metric.in_(metrics)
        for source, metrics in KPI_METRICS.items()
    ]
    statement = (
        select(
            AssistantDaily.source,
            AssistantDaily.metric,
            AssistantDaily.dimensions,
            func.sum(AssistantDaily.value),
        )
        .where(*conditions, or_(*wanted))
        .group_by(AssistantDaily.source, AssistantDaily.metric, AssistantDaily.dimensions)
    )
    totals = {
        "copilot_code_generations": 0.0,
        "copilot_code_acceptances": 0.0,
        "copilot_lines_suggested_added": 0.0,
        "copilot_lines_added": 0.0,
        "claude_code_edits_accepted": 0.0,
        "claude_code_edits_rejected": 0.0,
    }
    for source, metric, dimensions, value in await session.execute(statement):
        amount = float(value or 0)
        parsed = parse_dimensions(dimensions)
        if source == "copilot":
            if metric == "lines_added" and parsed.get("feature") == AGENT_EDIT_FEATURE:
                continue
            totals[f"copilot_{metric}"] += amount
        elif parsed.get("decision") in ("accept", "reject"):
            outcome = "accepted" if parsed["decision"] == "accept" else "rejected"
            totals[f"claude_code_edits_{outcome}"] += amount
    return {name: round(value) for name, value in totals.items()}
