"""Rate-limit dependencies for routes: the limiter, the plan book, `limit_by_ip(policy)`,
and `note_api_key` for the routes that verify project keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem

from prodlens.http.client_ip import client_ip
from prodlens.ratelimit.enforce import app_limiter, enforce
from prodlens.ratelimit.limiter import RateLimiter
from prodlens.ratelimit.plans import PlanBook, app_plan_book


async def _rate_limiter(request: Request) -> RateLimiter:
    return app_limiter(request.scope)


async def _plan_book(request: Request) -> PlanBook:
    return app_plan_book(request.scope)


RateLimiterDep = Annotated[RateLimiter, Depends(_rate_limiter)]
PlanBookDep = Annotated[PlanBook, Depends(_plan_book)]


def limit_by_ip(policy: str) -> Callable[[Request], Awaitable[None]]:
    async def limited(request: Request) -> None:
        await enforce_request(request, policy, f"ip:{client_ip(request)}")

    limited.__name__ = f"limit_{policy}_by_ip"
    return limited


async def enforce_request(
    request: Request, policy: str, key: str, *, item: RateLimitItem | None = None
) -> None:
    await enforce(request.scope, app_limiter(request.scope), policy, key, item=item)


def note_api_key(request: Request, presented: str, key_id: str | None) -> None:
    """Tell the general limit what a presented API key turned out to be: a key (its id),
    counted per key from the next request on, or nothing (None), counted per address."""
    verified = app_limiter(request.scope).verified_keys
    if key_id is None:
        verified.forget(presented)
    else:
        verified.remember(presented, key_id)


async def charge_plan(request: Request, *, tier: str, key: str) -> None:
    """Count one request against the budget of the caller's plan (tier), if it has one."""
    budget = await app_plan_book(request.scope).budget(tier)
    if budget is not None:
        await enforce_request(request, "plan", key, item=budget)
