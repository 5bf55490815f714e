"""Plans (tiers) and their hourly request budgets, cached briefly in each worker."""

from __future__ import annotations

import time

from limits import RateLimitItem, RateLimitItemPerHour
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Scope

from prodlens.ratelimit.models import Plan

CACHE_SECONDS = 10.0


class PlanBook:
    """Plan budgets by name; admins' edits reach every worker within `CACHE_SECONDS`."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._budgets: dict[str, int | None] = {}
        self._loaded_at = float("-inf")

    async def budget(self, plan: str) -> RateLimitItem | None:
        """The hourly limit of a plan; None when unlimited (or unknown: never lock anyone out
        because of a plan that was renamed)."""
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            async with self.sessionmaker() as session:
                rows = await session.execute(select(Plan.name, Plan.requests_per_hour))
                self._budgets = dict(rows.all())  # (name, limit) rows
            self._loaded_at = time.monotonic()
        limit = self._budgets.get(plan)
        return None if limit is None else RateLimitItemPerHour(limit)

    def forget(self) -> None:
        self._loaded_at = float("-inf")


def app_plan_book(scope: Scope) -> PlanBook:
    """The app's plan book, for code that has a scope rather than a dependency."""
    plans: PlanBook = scope["app"].state.plans
    return plans
