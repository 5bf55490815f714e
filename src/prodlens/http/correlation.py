"""Correlation id: taken from `X-Correlation-ID` when sane, else generated; echoed back.

The id is bound into structlog's contextvars so every log line of the request
carries it, and stored in `scope["state"]` for error bodies.
"""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Correlation-ID"
# Letters, digits and a few separators, at most 128 characters: safe to log and echo.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def sanitize(candidate: str | None) -> str:
    if candidate and _SANE.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        correlation_id = sanitize(Headers(scope=scope).get(HEADER))
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = correlation_id
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            await self.app(scope, receive, send_with_id)
