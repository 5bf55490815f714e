"""One socket from accept to close: authenticate, then answer the client's messages.

Client mistakes get an `error` message (or, past a limit, a close with its code);
none of them is logged as a failure of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from prodlens.http.client_ip import scope_client_ip
from prodlens.kit.json_limits import storable
from prodlens.realtime import credentials, protocol
from prodlens.realtime.connection import Connection, Principal
from prodlens.realtime.credentials import Refused
from prodlens.realtime.protocol import BadMessage, ClientMessage, CloseCode

if TYPE_CHECKING:
    from prodlens.realtime.runtime import Realtime

log = structlog.get_logger(__name__)

# Mistakes tolerated on one socket before it is closed as a protocol error.
_MAX_ERRORS = 20


async def converse(websocket: WebSocket, realtime: Realtime) -> None:
    settings = realtime.settings.realtime
    await websocket.accept()
    conn = Connection(websocket, scope_client_ip(websocket.scope) or "unknown", settings.send_queue)
    if not realtime.hub.admit(conn):
        await conn.close(CloseCode.TOO_MANY)
        return
    try:
        try:
            principal = await _authenticate(websocket, realtime)
        except Refused as refused:
            await conn.close(refused.code, str(refused))
            return
        if principal is None:  # the client left before saying who it is
            return
        conn.principal = principal
        if not realtime.hub.admit_user(conn):
            await conn.close(CloseCode.TOO_MANY)
            return
        conn.start_writer()
        conn.offer(
            "welcome",
            protocol.reply(
                "welcome",
                ping_seconds=settings.ping_seconds,
                idle_seconds=settings.idle_seconds,
                max_subscriptions=settings.max_subscriptions,
                max_message_bytes=settings.max_message_bytes,
            ),
        )
        reader = asyncio.create_task(_read(conn, realtime), name="realtime-reader")
        closed = asyncio.create_task(conn.finished.wait(), name="realtime-closed")
        await asyncio.wait({reader, closed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (reader, closed):
            task.cancel()
        await asyncio.gather(reader, closed, return_exceptions=True)
    finally:
        await conn.stop_writer()
        if conn.stuck:
            realtime.hub.leave_channels(conn)
            await _until_gone(websocket)
        realtime.hub.remove(conn)


async def _until_gone(websocket: WebSocket) -> None:
    """Hold a socket that could not be closed until its peer disconnects, so that it keeps
    its place in the per-address limit: a client cannot pile up sockets it never reads."""
    with contextlib.suppress(Exception):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


async def _authenticate(websocket: WebSocket, realtime: Realtime) -> Principal | None:
    offered = credentials.offered(websocket, realtime.settings)
    if offered.token:
        return await credentials.authenticate(offered.token, realtime.auth)
    if offered.cookie:
        if not offered.origin_allowed:
            raise Refused(CloseCode.FORBIDDEN, "The access cookie is only accepted from this site.")
        return await credentials.authenticate(offered.cookie, realtime.auth)
    # No credentials with the upgrade: the first message must bring them.
    try:
        async with asyncio.timeout(realtime.settings.realtime.auth_seconds):
            text = await websocket.receive_text()
    except TimeoutError:
        raise Refused(CloseCode.UNAUTHENTICATED, "Send credentials first.") from None
    except (WebSocketDisconnect, RuntimeError, KeyError):
        return None  # gone, or a binary frame: either way nothing to serve
    try:
        message = protocol.parse_client_message(text)
    except BadMessage:
        raise Refused(CloseCode.UNAUTHENTICATED, "The first message must be `auth`.") from None
    if message.type != "auth":
        raise Refused(CloseCode.UNAUTHENTICATED, "The first message must be `auth`.")
    token = message.body.get("token")
    if not isinstance(token, str) or not token or len(token) > 4096 or not storable(token):
        raise Refused(CloseCode.UNAUTHENTICATED, "`auth` needs a `token`.")
    return await credentials.authenticate(token, realtime.auth)


class _Budget:
    """Client messages per minute (fixed one-minute windows) and mistakes in all."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.window = time.monotonic()
        self.count = 0
        self.errors = 0

    def spend(self) -> bool:
        now = time.monotonic()
        if now - self.window >= 60:
            self.window, self.count = now, 0
        self.count += 1
        return self.count <= self.per_minute


async def _read(conn: Connection, realtime: Realtime) -> None:
    settings = realtime.settings.realtime
    budget = _Budget(settings.messages_per_minute)
    while True:
        frame = await conn.websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        conn.last_heard = time.monotonic()
        text = frame.get("text")
        if not budget.spend():
            await conn.close(CloseCode.TOO_MANY)
            return
        if text is None:
            error = BadMessage("realtime.invalid_json", "Send JSON in text frames.")
        elif len(text.encode()) > settings.max_message_bytes:
            await conn.close(CloseCode.MESSAGE_TOO_BIG)
            return
        else:
            message: ClientMessage | None = None
            try:
                message = protocol.parse_client_message(text)
                await _handle(conn, realtime, message)
                continue
            except BadMessage as bad:
                if bad.ref is None and message is not None:
                    bad.ref = message.ref
                error = bad
        budget.errors += 1
        if budget.errors > _MAX_ERRORS:
            await conn.close(CloseCode.PROTOCOL_ERROR)
            return
        conn.offer("error", protocol.error(error.code, error.detail, error.ref))


async def _handle(conn: Connection, realtime: Realtime, message: ClientMessage) -> None:
    if message.type == "ping":
        conn.offer("pong", protocol.reply("pong", message.ref, t=time.time()))
    elif message.type == "pong":
        pass  # being heard is all a pong is for
    elif message.type == "auth":
        raise BadMessage("realtime.already_authenticated", "This socket is signed in already.")
    elif message.type == "subscribe":
        await _subscribe(conn, realtime, message)
    elif message.type == "unsubscribe":
        _unsubscribe(conn, realtime, message)


async def _subscribe(conn: Connection, realtime: Realtime, message: ClientMessage) -> None:
    reference = message.text_field("project")
    assert conn.principal is not None
    project = await credentials.resolve_project(
        realtime.database.sessionmaker, conn.principal, reference
    )
    channel = protocol.project_channel(project.id)
    if channel not in conn.channels:
        if len(conn.channels) >= realtime.settings.realtime.max_subscriptions:
            raise BadMessage(
                "realtime.too_many_subscriptions",
                f"Follow at most {realtime.settings.realtime.max_subscriptions} projects "
                "per socket.",
            )
        await realtime.hub.follow(conn, channel, project.id, project.slug)
    conn.offer(
        "subscribed",
        protocol.reply(
            "subscribed",
            message.ref,
            channel=channel,
            project={"id": project.id, "slug": project.slug, "name": project.name},
        ),
    )


def _unsubscribe(conn: Connection, realtime: Realtime, message: ClientMessage) -> None:
    reference = message.text_field("project")
    for channel, (project_id, slug) in list(conn.channels.items()):
        if reference in (project_id, slug):
            realtime.hub.unfollow(conn, channel)
            conn.offer(
                "unsubscribed",
                protocol.reply(
                    "unsubscribed",
                    message.ref,
                    channel=channel,
                    project={"id": project_id, "slug": slug},
                    reason="requested",
                ),
            )
            return
    raise BadMessage("realtime.not_subscribed", "This socket does not follow that project.")
