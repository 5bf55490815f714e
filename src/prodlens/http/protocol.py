"""uvicorn's HTTP protocol with a deadline on the request head.

uvicorn times out only an idle keep-alive connection, and any byte received
cancels that timer: a client that opens a connection and sends nothing, or sends
its headers a byte at a time (slowloris), or trickles a body nobody reads after
its answer, keeps the socket open for ever. Here, whenever the server waits for a
request (a new connection, or a response just sent), that request's headers must
be complete within `http.header_timeout_seconds`, or the socket is closed. The
body has its own limit (`timeouts.BodyTimeoutMiddleware`).
"""

from __future__ import annotations

import asyncio
import json
from asyncio import TimerHandle
from functools import partial
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from prodlens.kit.errors import PROBLEM_MEDIA_TYPE, TYPE_PREFIX, BadRequest


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self._header_timer: TimerHandle | None = None

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle now, unless a pipelined request (headers complete) has just started.
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        # A request the parser cannot read (a malformed or oversized request line or
        # header) never reaches the app; answer it as the app would, a problem document.
        body = json.dumps(
            {
                "type": TYPE_PREFIX + BadRequest.code,
                "title": BadRequest.title,
                "status": 400,
                "detail": msg,
                "instance": None,
                "code": BadRequest.code,
                "correlation_id": None,
            }
        ).encode()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n")
        head.append(b"content-length: " + str(len(body)).encode() + b"\r\n")
        head.append(b"x-content-type-options: nosniff\r\n")
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def protocol_factory(header_timeout: float) -> type[asyncio.Protocol]:
    """What `uvicorn.run(http=...)` takes. uvicorn only calls it, like a class, and a
    partial of a module-level class survives the pickling that starts each worker."""
    return cast(
        type[asyncio.Protocol], partial(HeaderTimeoutProtocol, header_timeout=header_timeout)
    )
