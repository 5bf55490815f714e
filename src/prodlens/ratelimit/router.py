"""`/api/v1/usage` (the caller's plan and consumption) and `/api/v1/plans`."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit import service as audit
from prodlens.auth.deps import AdminUser, CurrentUser
from prodlens.auth.errors import AdminRequired, NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.http.client_ip import client_info
from prodlens.kit.db import SessionDep
from prodlens.kit.errors import NotFound, problem_responses
from prodlens.ratelimit.limiter import RateLimiter
from prodlens.ratelimit.models import Plan
from prodlens.ratelimit.plans import list_plans
from prodlens.ratelimit.schemas import PlanPublic, PlanUpdate, Usage, UsageWindow

router = APIRouter(
    prefix="/api/v1",
    tags=["usage"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated),
)


class PlanNotFound(NotFound):
    code, title = "plans.not_found", "No such plan"


async def _window(limiter: RateLimiter, policy: str, key: str, item: RateLimitItem) -> UsageWindow:
    decision = await limiter.peek(policy, key, item=item)
    remaining = max(decision.remaining, 0)
    return UsageWindow(
        limit=item.amount,
        used=item.amount - remaining,
        remaining=remaining,
        resets_in_seconds=max(int(decision.reset_at - time.time()), 0),
    )


@router.get("/usage", response_model=Usage, summary="Your plan, its limits and what you used")
async def get_usage(request: Request, user: CurrentUser) -> Usage:
    limiter: RateLimiter = request.app.state.rate_limiter
    key = f"user:{user.id}"
    budget = await request.app.state.plans.budget(user.tier)
    hourly = (
        await _window(limiter, "plan", key, budget)
        if budget is not None
        else UsageWindow(limit=None, used=0, remaining=None, resets_in_seconds=0)
    )
    general = await _window(limiter, "general", key, limiter.policies["general"])
    return Usage(plan=user.tier, hourly=hourly, per_minute=general)


@router.get("/plans", response_model=list[PlanPublic], summary="The plans and their budgets")
async def get_plans(user: CurrentUser, session: SessionDep) -> list[PlanPublic]:
    return [PlanPublic.model_validate(plan) for plan in await list_plans(session)]


async def _plan(session: AsyncSession, name: str) -> Plan:
    plan = await session.get(Plan, name)
    if plan is None:
        raise PlanNotFound()
    return plan


@router.patch(
    "/plans/{name}",
    response_model=PlanPublic,
    summary="Change a plan's hourly budget (admins)",
    responses=problem_responses(AdminRequired, PlanNotFound),
)
async def update_plan(
    name: str, body: PlanUpdate, request: Request, admin: AdminUser, session: SessionDep
) -> PlanPublic:
    plan = await _plan(session, name)
    now = request.app.state.clock.now()
    before = plan.requests_per_hour
    if "requests_per_hour" in body.model_fields_set:
        plan.requests_per_hour = body.requests_per_hour
    if body.description is not None:
        plan.description = body.description
    plan.updated_at = now
    audit.record(
        session,
        "plan.changed",
        at=now,
        client=client_info(request),
        actor_id=admin.id,
        identifier=name,
        details={"from": before, "to": plan.requests_per_hour},
    )
    await session.flush()
    request.app.state.plans.forget()
    return PlanPublic.model_validate(plan)
