"""The general per-client limit on every API request, and the `X-RateLimit-*` headers.

A client is the user of a valid access token, a project API key this worker has
seen verified, or else the client IP (through trusted proxies only). Route-specific
limits (login, register, ...) and plan budgets are applied by the routes; their
decisions land in the same headers.

Why a key must be verified before it gets a budget of its own: a claimed key costs
nothing to make up, so counting the claim (its prefix, say) would give every random
`X-API-Key` a fresh budget and the per-address limit could be dodged at will; a
real key's prefix sent with a wrong secret would even spend that key's budget.
Verifying in here would put a database lookup in front of the limit meant to shed
load. So the decision is:

* an access token is verified here (a signature check, no I/O) and counts per user;
* a claimed API key counts against the address until a route has verified that exact
  secret (`ratelimit.deps.note_api_key`, kept hashed in `VerifiedKeys`, per worker);
  from then on it counts per key, whichever address sends it, so a real key is never
  starved by fakes sprayed from elsewhere and keeps its own per-key limit;
* a key that fails verification is forgotten at once, and counts per address again.

The first request of a key on each worker (and after an idle spell of
`verified_keys.TTL_SECONDS`) is counted against its address; that one request is
the price of not touching the database here.
"""

from __future__ import annotations

import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodlens.auth.cookies import ACCESS_COOKIE
from prodlens.auth.runtime import app_auth_runtime
from prodlens.auth.tokens import InvalidToken
from prodlens.http.client_ip import scope_client_ip
from prodlens.kit.errors import correlation_id_of, problem_response
from prodlens.projects.api_key_format import looks_like_key
from prodlens.ratelimit.enforce import app_limiter, enforce
from prodlens.ratelimit.errors import RateLimited
from prodlens.ratelimit.limiter import STATE_KEY


def client_key(scope: Scope) -> str:
    """`user:<id>` for a valid access token (bearer or cookie), `key:<id>` for an API key
    verified before, else `ip:<address>`: bad or unproven credentials count there."""
    headers = Headers(scope=scope)
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token if scheme.lower() == "bearer" else ""
    api_key = headers.get("x-api-key") or (token if looks_like_key(token) else "")
    if api_key:
        key_id = app_limiter(scope).verified_keys.key_id(api_key)
        if key_id is not None:
            return f"key:{key_id}"
    else:
        token = token or Request(scope).cookies.get(ACCESS_COOKIE, "")
        if token:
            runtime = app_auth_runtime(scope)
            try:
                return f"user:{runtime.keys.verify_access(token).user_id}"
            except InvalidToken:
                pass
    return f"ip:{scope_client_ip(scope)}"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        try:
            await enforce(scope, app_limiter(scope), "general", client_key(scope))
        except RateLimited as exc:
            response = problem_response(
                exc,
                instance=scope["path"],
                correlation_id=correlation_id_of(scope),
                detail=exc.detail,
                headers=exc.headers,
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = scope.get("state", {}).get(STATE_KEY)
                if decision is not None:
                    headers = MutableHeaders(scope=message)
                    for name, value in decision.headers(now=time.time()).items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
