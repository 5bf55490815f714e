"""Rate-limit dependencies for routes: `limit_by_ip(policy)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from prodlens.http.client_ip import client_ip
from prodlens.ratelimit.enforce import enforce_request


def limit_by_ip(policy: str) -> Callable[[Request], Awaitable[None]]:
    async def limited(request: Request) -> None:
        await enforce_request(request, policy, f"ip:{client_ip(request)}")

    limited.__name__ = f"limit_{policy}_by_ip"
    return limited
