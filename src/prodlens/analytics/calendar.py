"""A project's working calendar: which weekdays the team works and which dates are
holidays. Kept in the project's settings under `calendar`.

Statistics use it to tell a day off from a day of zero activity: a quiet Saturday
or a holiday is not evidence of anything, and a weekday pattern shared by two series
is not a relation between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.schemas import CalendarPublic, CalendarUpdate
from prodlens.kit.clock import Clock
from prodlens.projects.models import Project

SETTINGS_KEY = "calendar"
# ISO weekdays as Python numbers them: Monday 0 ... Sunday 6.
DEFAULT_WORKING_DAYS: tuple[int, ...] = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class WorkCalendar:
    working_days: frozenset[int] = frozenset(DEFAULT_WORKING_DAYS)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def is_working(self, day: date) -> bool:
        return day.weekday() in self.working_days and day not in self.holidays

    def working(self, days: Iterable[date]) -> list[bool]:
        return [self.is_working(day) for day in days]


def project_calendar(project: Project) -> WorkCalendar:
    stored: dict[str, Any] = (project.settings or {}).get(SETTINGS_KEY) or {}
    days = stored.get("working_days")
    holidays = stored.get("holidays") or []
    return WorkCalendar(
        working_days=frozenset(DEFAULT_WORKING_DAYS if days is None else days),
        holidays=frozenset(date.fromisoformat(day) for day in holidays),
    )


def calendar_public(project: Project) -> CalendarPublic:
    calendar = project_calendar(project)
    return CalendarPublic(
        working_days=sorted(calendar.working_days), holidays=sorted(calendar.holidays)
    )


def _stored(working_days: Sequence[int], holidays: Sequence[date]) -> dict[str, Any]:
    return {
        "working_days": sorted(set(working_days)),
        "holidays": [day.isoformat() for day in sorted(set(holidays))],
    }


async def set_calendar(
    session: AsyncSession, project: Project, update: CalendarUpdate, *, clock: Clock
) -> CalendarPublic:
    # Re-read the settings with the row locked: other writers keep their keys.
    await session.refresh(project, attribute_names=["settings"], with_for_update=True)
    project.settings = {
        **(project.settings or {}),
        SETTINGS_KEY: _stored(update.working_days, update.holidays),
    }
    project.updated_at = clock.now()
    await session.flush()
    return calendar_public(project)
