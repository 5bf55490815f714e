"""What the live feed (realtime/) sends about a project, computed here where the KPIs live.

The KPIs are the same objects as `GET /projects/{id}/metrics` for its default window
(the 30 days before now), so a dashboard can replace its figures with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import kpis, sessions
from prodlens.kit.clock import Clock
from prodlens.projects.models import Project


async def kpi_snapshot(
    session: AsyncSession, project_id: str, *, clock: Clock
) -> dict[str, Any] | None:
    project = await session.get(Project, project_id)
    if project is None:  # deleted since the change
        return None
    window = kpis.resolve_window(None, None, now=clock.now())
    report = await kpis.compute_kpis(session, project, window, kpis.Filters())
    return report.model_dump(mode="json")


async def session_summaries(
    session: AsyncSession, project_id: str, session_ids: Sequence[str]
) -> list[dict[str, Any]]:
    found = await sessions.session_summaries(session, project_id, session_ids)
    return [item.model_dump(mode="json") for item in found]


def batch_summary(
    project_id: str, source: str, counts: dict[str, int], stored: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """An ingest batch in figures: counts by outcome and what the stored events add up to
    (never prompt text or attributes)."""
    return {
        "project_id": project_id,
        "source": source,
        "received": sum(counts.values()),
        **counts,
        "errors": sum(row["status"] == "error" for row in stored),
        "total_tokens": sum(row["total_tokens"] for row in stored),
        "cost_usd": round(sum(float(row["cost_usd"] or 0) for row in stored), 6),
        "developers": len({row["developer_id"] for row in stored if row["developer_id"]}),
    }
