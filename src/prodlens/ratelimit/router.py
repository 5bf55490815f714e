"""`/api/v1/usage` (the caller's plan and consumption) and `/api/v1/plans`."""

from __future__ import annotations

from fastapi import APIRouter

from prodlens.auth.deps import AdminUser, CurrentUser
from prodlens.auth.errors import AdminRequired, NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep, ClockDep
from prodlens.kit.errors import problem_responses
from prodlens.ratelimit import service
from prodlens.ratelimit.deps import PlanBookDep, RateLimiterDep
from prodlens.ratelimit.schemas import PlanPublic, PlanUpdate, Usage
from prodlens.ratelimit.service import PlanNotFound

router = APIRouter(
    prefix="/api/v1",
    tags=["usage"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated),
)


@router.get("/usage", response_model=Usage, summary="Your plan, its limits and what you used")
async def get_usage(user: CurrentUser, limiter: RateLimiterDep, plans: PlanBookDep) -> Usage:
    return await service.usage(limiter, plans, user)


@router.get("/plans", response_model=list[PlanPublic], summary="The plans and their budgets")
async def get_plans(user: CurrentUser, session: SessionDep) -> list[PlanPublic]:
    return [PlanPublic.model_validate(plan) for plan in await service.list_plans(session)]


@router.patch(
    "/plans/{name}",
    response_model=PlanPublic,
    summary="Change a plan's hourly budget (admins)",
    responses=problem_responses(AdminRequired, PlanNotFound),
)
async def update_plan(
    name: str,
    body: PlanUpdate,
    admin: AdminUser,
    session: SessionDep,
    plans: PlanBookDep,
    clock: ClockDep,
    client: ClientDep,
) -> PlanPublic:
    plan = await service.update_plan(
        session, name=name, changes=body, admin=admin, plans=plans, clock=clock, client=client
    )
    return PlanPublic.model_validate(plan)
