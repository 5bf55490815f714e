"""One socket: who it is, what it follows, and a bounded queue of messages to send.

The hub only ever `offer`s a message: a full queue closes the socket as too slow,
so one client that stops reading never holds up the others or grows memory. A
single writer task drains the queue into the socket.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import structlog
from starlette.websockets import WebSocket, WebSocketState

from prodlens.observability import metrics
from prodlens.realtime import protocol
from prodlens.realtime.protocol import CloseCode

log = structlog.get_logger(__name__)

# How long the closing handshake may take (a client that reads nothing never answers).
_CLOSE_SECONDS = 5.0


@dataclass(frozen=True)
class Principal:
    """A signed-in user (access token or cookie) or a project API key."""

    user_id: str | None = None
    session_id: str | None = None
    api_key_id: str | None = None
    key_project_id: str | None = None
    key_scopes: frozenset[str] = frozenset()


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    ip: str
    send_queue: int
    principal: Principal | None = None
    # channel -> (project id, slug) of each project followed
    channels: dict[str, tuple[str, str]] = field(default_factory=dict)
    counted_user: bool = False  # counted against the per-user limit
    last_heard: float = field(default_factory=time.monotonic)
    closing: CloseCode | None = None
    # Set once the server has closed (or given up closing) the socket.
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # The closing handshake could not be sent: the client reads nothing (see `close`).
    stuck: bool = False
    _closer: asyncio.Task[None] | None = field(init=False, default=None)
    _queue: asyncio.Queue[tuple[str, str, float | None]] = field(init=False)
    _writer: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.send_queue)

    def start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="realtime-writer")

    def offer(self, kind: str, text: str, sent: float | None = None) -> bool:
        """Queue a message; False (and the socket closing as too slow) when the queue is full."""
        if self.closing is not None:
            return False
        try:
            self._queue.put_nowait((kind, text, sent))
        except asyncio.QueueFull:
            self.close_soon(CloseCode.TOO_SLOW)
            return False
        return True

    async def _write(self) -> None:
        while True:
            kind, text, sent = await self._queue.get()
            try:
                await self.websocket.send_text(text)
            except Exception:  # the peer went away; the reader sees the disconnect
                return
            metrics.WS_MESSAGES_SENT.labels(kind).inc()
            if sent is not None:
                metrics.WS_PUBLISH_LATENCY.observe(max(time.time() - sent, 0.0))

    def close_soon(self, code: CloseCode) -> None:
        """Close from code that must not wait (the hub's delivery path)."""
        if self.closing is None and self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(
                self.close(code), name="realtime-close"
            )

    async def close(self, code: CloseCode, detail: str | None = None) -> None:
        """Stop sending, say `bye` with the reason, close with the code. Once per socket."""
        if self.closing is not None:
            return
        self.closing = code
        metrics.WS_CLOSED.labels(code.name.lower()).inc()
        if code is not CloseCode.SHUTTING_DOWN:
            log.info("ws_closed", code=int(code), reason=code.reason, ip=self.ip)
        await self.stop_writer()
        try:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                async with asyncio.timeout(_CLOSE_SECONDS):
                    await self.websocket.send_text(protocol.bye(code, detail))
                    await self.websocket.close(int(code), code.reason)
        except TimeoutError:
            # The server cannot write to a client that reads nothing, not even a close
            # frame, and ASGI offers no way to abort the connection. It stays counted
            # against its address until the peer goes away (see `conversation`).
            self.stuck = True
        except Exception:
            log.debug("ws_close_failed", exc_info=True)  # the peer is gone already
        finally:
            self.finished.set()

    async def stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
