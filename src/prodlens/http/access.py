"""Per-request timing, `X-Process-Time`, the access-log line and HTTP metrics.

Metrics and logs are labelled by route template (`/api/v1/projects/{id}`),
never by raw path, so label sets stay bounded and ids never leak into logs.
"""

from __future__ import annotations

import time

import structlog
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodlens.observability import metrics

UNMATCHED = "<unmatched>"
log = structlog.get_logger("prodlens.access")


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request, once routing has run."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path_format", None) or route.path)
    endpoint = scope.get("endpoint")
    if endpoint is not None:  # a plain Starlette route (e.g. openapi.json) records only this
        for candidate in getattr(scope.get("app"), "routes", ()):
            if getattr(candidate, "endpoint", None) is endpoint:
                return str(candidate.path)
    if "app_root_path" in scope:  # a mounted app (static files): its mount path
        return str(scope["root_path"]) or UNMATCHED
    return UNMATCHED


class InstrumentedRoute(APIRoute):
    """An API route that counts its requests in progress under its own template."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        gauge = metrics.HTTP_IN_PROGRESS.labels(scope["method"], self.path_format)
        gauge.inc()
        try:
            await super().handle(scope, receive, send)
        finally:
            gauge.dec()


def _content_length(scope: Scope) -> int:
    value = Headers(scope=scope).get("content-length", "")
    return int(value) if value.isdigit() else 0


class AccessMiddleware:
    def __init__(self, app: ASGIApp, *, slow_request_seconds: float) -> None:
        self.app = app
        self.slow_request_seconds = slow_request_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app dies before answering
        response_bytes = 0

        async def send_observed(message: Message) -> None:
            nonlocal status, response_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - started
                MutableHeaders(scope=message)["X-Process-Time"] = f"{elapsed:.6f}"
            elif message["type"] == "http.response.body":
                response_bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._record(scope, status, response_bytes, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, response_bytes: int, duration: float) -> None:
        method = scope["method"]
        route = route_template(scope)
        metrics.HTTP_REQUESTS.labels(method, route, f"{status // 100}xx").inc()
        metrics.HTTP_DURATION.labels(method, route).observe(duration)
        metrics.HTTP_REQUEST_SIZE.labels(method, route).observe(_content_length(scope))
        metrics.HTTP_RESPONSE_SIZE.labels(method, route).observe(response_bytes)

        fields = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "response_bytes": response_bytes,
        }
        if route == UNMATCHED:  # a matched path may carry a token; an unmatched one is kept
            fields["path"] = scope.get("path", "")[:200]
        if duration > self.slow_request_seconds:
            log.warning("slow_request", threshold_s=self.slow_request_seconds, **fields)
        else:
            log.info("request", **fields)
