"""Dependency aliases of the analytics routes: the two kinds of time window.

KPIs compare like with like, so their window is rolling (30 x 24 hours before
`until`); the daily views cover whole UTC calendar days (the last 30, today
included; insights the last 60: about 21 working days in 30 are too few for a
lagged relation to be told from noise). All take `since` and `until` and raise
InvalidWindow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from prodlens.analytics import kpis
from prodlens.analytics.window import Window, resolve_window
from prodlens.kit.deps import ClockDep

INSIGHTS_DAYS = 60

Since = Annotated[
    datetime | None,
    Query(description="Window start, ISO 8601 (UTC when no offset is given)."),
]
Until = Annotated[datetime | None, Query(description="Window end, exclusive. Default: now.")]
RollingSince = Annotated[
    datetime | None,
    Query(description="Window start, ISO 8601 (UTC without an offset). Default: until - 30 d."),
]


def _calendar_days(clock: ClockDep, since: Since = None, until: Until = None) -> Window:
    return resolve_window(since, until, now=clock.now())


def _insights_days(clock: ClockDep, since: Since = None, until: Until = None) -> Window:
    return resolve_window(since, until, now=clock.now(), default_days=INSIGHTS_DAYS)


def _rolling_window(clock: ClockDep, since: RollingSince = None, until: Until = None) -> Window:
    return kpis.resolve_window(since, until, now=clock.now())


CalendarDaysDep = Annotated[Window, Depends(_calendar_days)]
InsightsDaysDep = Annotated[Window, Depends(_insights_days)]
RollingWindowDep = Annotated[Window, Depends(_rolling_window)]
