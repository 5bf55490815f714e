"""Plans and usage: the plans on offer, an admin changing one, what a user has consumed."""

from __future__ import annotations

import time

from limits import RateLimitItem
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit import service as audit
from prodlens.auth.models import User
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.db import after_commit
from prodlens.kit.errors import NotFound
from prodlens.ratelimit.limiter import RateLimiter
from prodlens.ratelimit.models import Plan
from prodlens.ratelimit.plans import PlanBook
from prodlens.ratelimit.schemas import PlanUpdate, Usage, UsageWindow


class PlanNotFound(NotFound):
    code, title = "plans.not_found", "No such plan"


async def list_plans(session: AsyncSession) -> list[Plan]:
    return list(
        await session.scalars(
            select(Plan).order_by(Plan.requests_per_hour.is_(None), Plan.requests_per_hour)
        )
    )


async def update_plan(
    session: AsyncSession,
    *,
    name: str,
    changes: PlanUpdate,
    admin: User,
    plans: PlanBook,
    clock: Clock,
    client: ClientInfo,
) -> Plan:
    plan = await session.get(Plan, name)
    if plan is None:
        raise PlanNotFound()
    now = clock.now()
    before = plan.requests_per_hour
    if "requests_per_hour" in changes.model_fields_set:
        plan.requests_per_hour = changes.requests_per_hour
    if changes.description is not None:
        plan.description = changes.description
    plan.updated_at = now
    audit.record(
        session,
        "plan.changed",
        at=now,
        client=client,
        actor_id=admin.id,
        identifier=name,
        details={"from": before, "to": plan.requests_per_hour},
    )
    await session.flush()

    # Only once committed: a reload before the commit would read, and keep, the old budget.
    async def forget_plan_budgets() -> None:
        plans.forget()

    after_commit(session, forget_plan_budgets)
    return plan


async def _window(limiter: RateLimiter, policy: str, key: str, item: RateLimitItem) -> UsageWindow:
    decision = await limiter.peek(policy, key, item=item)
    remaining = max(decision.remaining, 0)
    return UsageWindow(
        limit=item.amount,
        used=item.amount - remaining,
        remaining=remaining,
        resets_in_seconds=max(int(decision.reset_at - time.time()), 0),
    )


async def usage(limiter: RateLimiter, plans: PlanBook, user: User) -> Usage:
    """The user's plan budget this hour and the general per-minute limit, as counted now."""
    key = f"user:{user.id}"
    budget = await plans.budget(user.tier)
    hourly = (
        await _window(limiter, "plan", key, budget)
        if budget is not None
        else UsageWindow(limit=None, used=0, remaining=None, resets_in_seconds=0)
    )
    general = await _window(limiter, "general", key, limiter.policies["general"])
    return Usage(plan=user.tier, hourly=hourly, per_minute=general)
