"""The publishing side of the feed: what ingest, webhooks and work items call.

Domain services queue a publication with the `*_after_commit` helpers, so a batch
that rolls back publishes nothing. The work is skipped for projects that no socket
follows on any worker (the hubs keep a `watch` key per followed project alive).

`kpis` messages are recomputed from the database, at most once per project per
`kpi_interval` across all workers: a worker recomputes only when it wins the
project's short-lived lock in the shared state store, and tries again one interval
later when another worker held it (so the last change is always reflected).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.kit.db import after_commit
from prodlens.kit.state import StateStore
from prodlens.realtime.broker import Broker, envelope
from prodlens.realtime.protocol import project_channel

log = structlog.get_logger(__name__)

# Server-internal messages between workers (never sent to a client as such).
CONTROL_CHANNEL = "control"

KpiSnapshot = Callable[[AsyncSession, str], Awaitable[dict[str, Any] | None]]
SessionSummaries = Callable[[AsyncSession, str, Sequence[str]], Awaitable[list[dict[str, Any]]]]


def watch_key(project_id: str) -> str:
    return f"realtime:watch:{project_id}"


class Publisher:
    def __init__(
        self,
        broker: Broker,
        store: StateStore,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        kpi_snapshot: KpiSnapshot,
        session_summaries: SessionSummaries,
        kpi_interval: float,
    ) -> None:
        self.broker = broker
        self.store = store
        self.sessionmaker = sessionmaker
        self.kpi_snapshot = kpi_snapshot
        self.session_summaries = session_summaries
        self.kpi_interval = kpi_interval
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()

    async def watched(self, project_id: str) -> bool:
        return await self.store.exists(watch_key(project_id))

    async def batch_stored(
        self, project_id: str, summary: dict[str, Any], session_ids: Sequence[str]
    ) -> None:
        """An ingest batch committed: its summary, the sessions it touched, fresh KPIs."""
        if not await self.watched(project_id):
            return
        channel = project_channel(project_id)
        await self.broker.publish(channel, envelope("events", summary))
        if session_ids:
            async with self.sessionmaker() as session:
                sessions = await self.session_summaries(session, project_id, session_ids)
            for item in sessions:
                await self.broker.publish(channel, envelope("session", item))
                # A memory broker delivers without suspending: let the socket writers
                # drain between messages, so a batch never fills a reading client's queue.
                await asyncio.sleep(0)
        self.project_changed(project_id)

    def project_changed(self, project_id: str) -> None:
        """The project's data changed: its KPIs will be recomputed and sent (debounced)."""
        self._dirty.add(project_id)
        if project_id not in self._refreshing:
            self._refreshing[project_id] = asyncio.create_task(
                self._refresh(project_id), name="realtime-kpis"
            )

    async def _refresh(self, project_id: str) -> None:
        lock_seconds = math.ceil(self.kpi_interval)  # the store's TTLs are whole seconds
        try:
            while project_id in self._dirty:
                self._dirty.discard(project_id)
                if not await self.watched(project_id):
                    return
                lock = f"realtime:kpis:{project_id}"
                if await self.store.set_if_absent(lock, "1", ttl=lock_seconds):
                    await self._publish_kpis(project_id)
                else:
                    self._dirty.add(project_id)  # another worker's figures may predate ours
                await asyncio.sleep(self.kpi_interval)
        except Exception:
            log.exception("realtime_kpis_failed", project_id=project_id)
        finally:
            self._refreshing.pop(project_id, None)

    async def _publish_kpis(self, project_id: str) -> None:
        async with self.sessionmaker() as session:
            report = await self.kpi_snapshot(session, project_id)
        if report is not None:
            await self.broker.publish(project_channel(project_id), envelope("kpis", report))

    async def access_changed(self, project_id: str) -> None:
        """Members or keys of a project changed: every worker re-checks its subscribers."""
        await self.broker.publish(
            CONTROL_CHANNEL, envelope("access_changed", {"project_id": project_id})
        )

    async def sessions_revoked(self, session_ids: Sequence[str]) -> None:
        """Signed-out sessions: every worker closes their sockets."""
        await self.broker.publish(
            CONTROL_CHANNEL, envelope("sessions_revoked", {"session_ids": list(session_ids)})
        )

    async def close(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def publish_batch_after_commit(
    session: AsyncSession,
    publisher: Publisher | None,
    project_id: str,
    summary: dict[str, Any],
    session_ids: Sequence[str],
) -> None:
    if publisher is not None:
        after_commit(session, partial(publisher.batch_stored, project_id, summary, session_ids))


def refresh_kpis_after_commit(
    session: AsyncSession, publisher: Publisher | None, project_id: str
) -> None:
    if publisher is not None:

        async def refresh() -> None:
            publisher.project_changed(project_id)

        after_commit(session, refresh)


def check_access_after_commit(
    session: AsyncSession, publisher: Publisher | None, project_id: str
) -> None:
    if publisher is not None:
        after_commit(session, partial(publisher.access_changed, project_id))
