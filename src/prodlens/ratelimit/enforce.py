"""Applying rate limits to a request: count, remember for the headers, refuse when over."""

from __future__ import annotations

import time

from limits import RateLimitItem
from starlette.types import Scope

from prodlens.observability import metrics
from prodlens.ratelimit.errors import RateLimited
from prodlens.ratelimit.limiter import STATE_KEY, Decision, RateLimiter


def app_limiter(scope: Scope) -> RateLimiter:
    """The app's limiter, for code that has a scope (middleware) rather than a dependency."""
    limiter: RateLimiter = scope["app"].state.rate_limiter
    return limiter


def remember(scope: Scope, decision: Decision) -> None:
    """Keep the decision closest to exhaustion; it is the one the headers report."""
    state = scope.setdefault("state", {})
    current: Decision | None = state.get(STATE_KEY)
    if (
        current is None
        or not decision.allowed
        or (current.allowed and decision.remaining < current.remaining)
    ):
        state[STATE_KEY] = decision


async def enforce(
    scope: Scope, limiter: RateLimiter, policy: str, key: str, *, item: RateLimitItem | None = None
) -> None:
    if not limiter.enabled:
        return
    decision = await limiter.hit(policy, key, item=item)
    remember(scope, decision)
    if not decision.allowed:
        metrics.RATE_LIMITED.labels(policy).inc()
        raise RateLimited(
            f"Rate limit {policy!r} exceeded; retry after the time in Retry-After.",
            headers=decision.headers(now=time.time()),
        )
