"""This worker's sockets: who follows which channel, delivery, heartbeats, control.

Every message the broker delivers is encoded once and offered to each follower's
queue; nothing here awaits a socket. Control messages (sessions signed out,
project access changed) reach the hub of every worker through the same broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.config import RealtimeSettings
from prodlens.kit.state import StateStore
from prodlens.observability import metrics
from prodlens.realtime import credentials, protocol
from prodlens.realtime.connection import Connection
from prodlens.realtime.protocol import CloseCode
from prodlens.realtime.service import CONTROL_CHANNEL, watch_key

log = structlog.get_logger(__name__)

IsRevoked = Callable[[str], Awaitable[bool]]  # the auth revocation list


class Hub:
    def __init__(
        self,
        settings: RealtimeSettings,
        *,
        store: StateStore,
        sessionmaker: async_sessionmaker[AsyncSession],
        is_revoked: IsRevoked,
    ) -> None:
        self.settings = settings
        self.store = store
        self.sessionmaker = sessionmaker
        self.is_revoked = is_revoked
        self.connections: set[Connection] = set()
        self.followers: defaultdict[str, set[Connection]] = defaultdict(set)
        self._per_ip: Counter[str] = Counter()
        self._per_user: Counter[str] = Counter()
        self._heartbeat: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # Lifecycle

    def start(self) -> None:
        self._heartbeat = asyncio.create_task(self._beat(), name="realtime-heartbeat")

    async def shutdown(self) -> None:
        """`bye` and 1001 to every socket, then stop (graceful shutdown)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        closing = [conn.close(CloseCode.SHUTTING_DOWN) for conn in list(self.connections)]
        await asyncio.gather(*closing, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    # Registry

    def admit(self, conn: Connection) -> bool:
        """Count a new socket against its address; False when the address has too many."""
        if self._per_ip[conn.ip] >= self.settings.max_connections_per_ip:
            return False
        self._per_ip[conn.ip] += 1
        self.connections.add(conn)
        metrics.WS_CONNECTIONS.inc()
        return True

    def admit_user(self, conn: Connection) -> bool:
        user = conn.principal.user_id if conn.principal else None
        if user is None:
            return True
        if self._per_user[user] >= self.settings.max_connections_per_user:
            return False
        self._per_user[user] += 1
        conn.counted_user = True
        return True

    def leave_channels(self, conn: Connection) -> None:
        for channel in list(conn.channels):
            self.unfollow(conn, channel)

    def remove(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        metrics.WS_CONNECTIONS.dec()
        self.leave_channels(conn)
        self._per_ip[conn.ip] -= 1
        if self._per_ip[conn.ip] <= 0:
            del self._per_ip[conn.ip]
        user = conn.principal.user_id if conn.principal else None
        if user is not None and conn.counted_user:
            self._per_user[user] -= 1
            if self._per_user[user] <= 0:
                del self._per_user[user]

    async def follow(self, conn: Connection, channel: str, project_id: str, slug: str) -> None:
        conn.channels[channel] = (project_id, slug)
        self.followers[channel].add(conn)
        await self._keep_watched(project_id)

    def unfollow(self, conn: Connection, channel: str) -> None:
        conn.channels.pop(channel, None)
        followers = self.followers.get(channel)
        if followers is not None:
            followers.discard(conn)
            if not followers:
                del self.followers[channel]

    async def _keep_watched(self, project_id: str) -> None:
        # Three heartbeats of slack: a worker that dies stops publishers' work soon after.
        ttl = max(1, int(self.settings.ping_seconds * 3))
        with contextlib.suppress(Exception):
            await self.store.set(watch_key(project_id), "1", ttl=ttl)

    # Delivery (called by the broker, on the event loop; must not block)

    def deliver(self, channel: str, seq: int, envelope: dict[str, Any]) -> None:
        kind = str(envelope.get("kind"))
        data = envelope.get("data") or {}
        if channel == CONTROL_CHANNEL:
            self._control(kind, data)
            return
        followers = self.followers.get(channel)
        if not followers or kind not in protocol.CHANNEL_TYPES:
            return
        sent = float(envelope.get("sent") or time.time())
        text = protocol.channel_message(kind, channel, seq, data, sent)
        for conn in list(followers):
            conn.offer(kind, text, sent)

    def _control(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "sessions_revoked":
            revoked = set(data.get("session_ids") or ())
            for conn in list(self.connections):
                if conn.principal is not None and conn.principal.session_id in revoked:
                    conn.close_soon(CloseCode.SESSION_REVOKED)
        elif kind == "access_changed":
            channel = protocol.project_channel(str(data.get("project_id")))
            if self.followers.get(channel):
                self._spawn(self._recheck(channel))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work, name="realtime-control")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recheck(self, channel: str) -> None:
        """Members removed or keys revoked: their sockets stop following the project."""
        async with self.sessionmaker() as session:
            for conn in list(self.followers.get(channel, ())):
                if conn.principal is None or conn.closing is not None:
                    continue
                if not await credentials.still_valid(session, conn.principal):
                    conn.close_soon(CloseCode.FORBIDDEN)
                    continue
                project_id, slug = conn.channels.get(channel, ("", ""))
                if not await credentials.may_read(session, conn.principal, project_id):
                    self.unfollow(conn, channel)
                    conn.offer(
                        "unsubscribed",
                        protocol.reply(
                            "unsubscribed",
                            channel=channel,
                            project={"id": project_id, "slug": slug},
                            reason="access revoked",
                        ),
                    )

    # Heartbeat: pings, idle sockets, watch keys, revocations missed while Redis was away

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ping_seconds)
            try:
                await self._beat_once()
            except Exception:
                log.exception("realtime_heartbeat_failed")

    async def _beat_once(self) -> None:
        now = time.monotonic()
        ping = protocol.reply("ping", t=time.time())
        for conn in list(self.connections):
            if conn.principal is None or conn.closing is not None:
                continue
            if now - conn.last_heard > self.settings.idle_seconds:
                conn.close_soon(CloseCode.IDLE)
            else:
                conn.offer("ping", ping)
        for project_id in {pid for pid, _ in self._followed()}:
            await self._keep_watched(project_id)
        sessions = {
            conn.principal.session_id
            for conn in self.connections
            if conn.principal is not None and conn.principal.session_id is not None
        }
        for session_id in sessions:
            if await self.is_revoked(session_id):
                self._control("sessions_revoked", {"session_ids": [session_id]})

    def _followed(self) -> Sequence[tuple[str, str]]:
        return [ids for conn in self.connections for ids in conn.channels.values()]
