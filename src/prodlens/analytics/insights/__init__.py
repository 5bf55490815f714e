"""Insights: lagged correlation of AI activity with delivery, anomalies, findings, and
intervention analysis (interventions.py).

The series are read from the daily rollups, commits and pull requests
(series.py, O(days) or O(delivery items)); the statistics are plain functions of
those series and the project's working calendar (correlation.py, anomalies.py,
brought together by analysis.py) that a report runs in a worker thread, because
SciPy is CPU-bound and must not stall the event loop; findings.py words them.
The methods, in words a team lead can follow, are in docs/metrics.md.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.calendar import WorkCalendar, calendar_public, project_calendar
from prodlens.analytics.insights.series import Series, load_series
from prodlens.analytics.schemas import InsightsReport
from prodlens.analytics.window import Window
from prodlens.projects.models import Project

DEFAULT_MAX_LAG = 7


def _analyze(series: Series, calendar: WorkCalendar, *, max_lag: int) -> dict[str, Any]:
    # NumPy and SciPy load with `analysis` on the first report, in this worker thread:
    # not at start-up (they cost time and memory most processes never use), nor on the loop.
    from prodlens.analytics.insights import analysis

    return analysis.analyze(series, calendar, max_lag=max_lag)


async def build_report(
    session: AsyncSession, project: Project, window: Window, *, max_lag: int
) -> InsightsReport:
    series = await load_series(session, project.id, window)
    calendar = project_calendar(project)
    # SciPy holds the CPU for the whole computation: a worker thread keeps the loop free.
    result = await anyio.to_thread.run_sync(partial(_analyze, series, calendar, max_lag=max_lag))
    return InsightsReport(
        since=window.since, until=window.until, calendar=calendar_public(project), **result
    )
