"""Time limits on slow clients: the request body here, the request head in `protocol.py`.

A client that sends its body slowly holds a task, its memory and anything the route
holds while it waits; past `http.body_timeout_seconds` (counted from the end of the
headers, for the whole body) it is answered 408 and its connection closed. The
answer is sent from here and the route sees a disconnect, whatever layer was
reading: inner layers turn errors raised while reading into their own answers.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodlens.kit.errors import ProblemError, correlation_id_of, problem_response

_DISCONNECT: Message = {"type": "http.disconnect"}


class RequestTimeout(ProblemError):
    status, code, title = 408, "http.request_timeout", "Request timeout"


class BodyTimeoutMiddleware:
    def __init__(self, app: ASGIApp, *, timeout_seconds: float) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        body_complete = response_started = answered = False

        async def send_tracked(message: Message) -> None:
            nonlocal response_started
            if answered:  # the client has its 408; the route's late answer goes nowhere
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        async def receive_bounded() -> Message:
            nonlocal body_complete, answered
            if answered:
                return _DISCONNECT
            if body_complete or response_started:  # e.g. waiting for a disconnect
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                answered = True
                await self._answer_timeout(scope, receive, send)
                return _DISCONNECT
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_complete = True
            return message

        await self.app(scope, receive_bounded, send_tracked)

    async def _answer_timeout(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            RequestTimeout,
            instance=scope["path"],
            correlation_id=correlation_id_of(scope),
            detail=f"The request body did not arrive within {self.timeout_seconds:g} s.",
            # The rest of the body may still be on its way: the connection cannot be reused.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
