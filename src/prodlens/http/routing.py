"""Answers the router gives about paths rather than routes: the methods of a path
(`OPTIONS`, `Allow` on a 405) and the other-slash redirect.

FastAPI makes one route per method, and the router answers a wrong method with
the first route whose path matched: `Allow` named that route's method only. Here
`Allow` lists every method the path has. `OPTIONS` on an API path is answered 204
with that `Allow` (what RFC 9110 has a server say about a resource's options,
and what a client probing it expects); a CORS preflight never gets here when CORS
is configured, since `ProblemCORSMiddleware` answers it further out, and without
CORS the 204 carries no `Access-Control-*` header, so a browser still refuses.

Starlette builds its trailing-slash redirect from the `Host` header, which the
client chooses: `Location: http://attacker.example/...`. The redirect here is
the same 307 with a relative `Location` (path and query only).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The methods a path is probed for, in the order `Allow` lists them.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_ANY_METHOD_PROBE = "PRODLENS-PROBE"  # a route that takes this takes any method (a mount)


def _matches(routes: Sequence[BaseRoute], scope: Scope, **changes: str) -> Match:
    """The best match of `scope` with `changes` among `routes`, by their own `matches`
    (FastAPI's included routers match through it too). The probe gets its own
    "fastapi" entry: FastAPI's routers keep matching state there."""
    probe = {**scope, **changes, "fastapi": {}}
    best = Match.NONE
    for route in routes:
        match, _ = route.matches(probe)
        if match is Match.FULL:
            return match
        if match is Match.PARTIAL:
            best = match
    return best


def path_methods(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """`Allow` for this path: every method a route of it answers, and OPTIONS; None
    when no route has the path or one takes any method itself (a mount)."""
    if _matches(routes, scope, method=_ANY_METHOD_PROBE) is not Match.PARTIAL:
        return None
    allowed = [
        method for method in _METHODS if _matches(routes, scope, method=method) is Match.FULL
    ]
    return ", ".join([*allowed, "OPTIONS"]) if allowed else None


class AllowedMethodsMiddleware:
    """Innermost: after rate limits and maintenance, like any request, and before
    the router."""

    def __init__(self, app: ASGIApp, *, router: Router) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allow = path_methods(self.router.routes, scope)
            if allow is not None:
                response = Response(status_code=204, headers={"Allow": allow})
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return

        async def send_full_allow(message: Message) -> None:
            # Only a 405 pays for the second walk over the routes.
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = path_methods(self.router.routes, scope)
                if allow is not None:
                    MutableHeaders(scope=message)["Allow"] = allow
            await send(message)

        await self.app(scope, receive, send_full_allow)


def _other_slash(path: str) -> str:
    return path.rstrip("/") if path.endswith("/") else path + "/"


def install_relative_slash_redirects(router: Router) -> None:
    """Replace the router's trailing-slash redirect by one with a relative `Location`."""
    router.redirect_slashes = False
    not_found = router.default

    async def redirect_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] == "http" and path != "/":
            other = _other_slash(path)
            location = quote(other, safe="/:@!$&'()*+,;=")
            # "//host" would be a protocol-relative URL: never send one.
            if (
                not location.startswith("//")
                and _matches(router.routes, scope, path=other) is not Match.NONE
            ):
                if query := scope.get("query_string", b"").decode("latin-1"):
                    location += "?" + quote(query, safe="/:@!$&'()*+,;=?%")
                await Response(status_code=307, headers={"Location": location})(
                    scope, receive, send
                )
                return
        await not_found(scope, receive, send)

    router.default = redirect_or_not_found
