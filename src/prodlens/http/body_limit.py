"""Request body limits → 413 problem, decided as early as possible.

A declared `Content-Length` over the limit is refused before any byte of the
body is read; a streamed (chunked) body is counted as it arrives and refused
the moment it crosses the limit. Ingest paths and GitHub webhook deliveries get
the larger ingest limit.

Starlette's own body limit only acts once a route reads the body and answers
in plain text on one path, so this small middleware is ours.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodlens.kit.errors import PayloadTooLarge, correlation_id_of, problem_response

# Paths that carry bulk data: ingest batches, and GitHub deliveries (large pushes).
LARGE_BODY_MARKERS = ("/ingest", "/integrations/github/webhook")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, default_limit: int, ingest_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit
        self.ingest_limit = ingest_limit

    def limit_for(self, path: str) -> int:
        large = any(marker in path for marker in LARGE_BODY_MARKERS)
        return self.ingest_limit if large else self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = problem_response(
                PayloadTooLarge,
                instance=scope["path"],
                correlation_id=correlation_id_of(scope),
                detail=f"The request body exceeds {limit} bytes.",
            )
            await response(scope, receive, send)
            return

        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException from body reading; the handler renders it.
                    raise HTTPException(413, f"The request body exceeds {limit} bytes.")
            return message

        await self.app(scope, receive_counted, send)
