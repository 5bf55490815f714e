"""Rate-limit dependencies for routes: the limiter, the plan book, `limit_by_ip(policy)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from prodlens.http.client_ip import client_ip
from prodlens.ratelimit.enforce import app_limiter, enforce_request
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
