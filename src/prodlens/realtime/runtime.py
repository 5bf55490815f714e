"""The realtime machinery of one worker: broker, hub and publisher, started and
stopped with the app.

Graceful shutdown: uvicorn closes open sockets with 1012 before the app's lifespan
ends, so the hub chains itself in front of uvicorn's SIGTERM/SIGINT handlers and
says `bye` with 1001 to every socket first, then lets uvicorn proceed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from types import FrameType
from typing import Any

import structlog

from prodlens.auth.runtime import AuthRuntime
from prodlens.config import Settings
from prodlens.kit.db import Database
from prodlens.realtime.broker import Broker
from prodlens.realtime.hub import Hub
from prodlens.realtime.service import Publisher

log = structlog.get_logger(__name__)

# How long the farewell to every socket may delay the worker's own shutdown.
_FAREWELL_SECONDS = 5.0
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Realtime:
    def __init__(
        self,
        settings: Settings,
        *,
        broker: Broker,
        publisher: Publisher,
        database: Database,
        auth: AuthRuntime,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.publisher = publisher
        self.database = database
        self.auth = auth
        self.hub = Hub(
            settings.realtime,
            store=auth.store,
            sessionmaker=database.sessionmaker,
            is_revoked=auth.revocations.is_revoked,
        )
        self._previous_handlers: dict[int, Any] = {}
        self._farewell: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.broker.start(self.hub.deliver)
        self.hub.start()
        self._chain_signal_handlers()

    async def stop(self) -> None:
        self._restore_signal_handlers()
        if self._farewell is not None:
            await asyncio.gather(self._farewell, return_exceptions=True)
        await self.hub.shutdown()
        await self.publisher.close()
        await self.broker.close()

    def _chain_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # in-process test clients: the lifespan's end closes the sockets
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                if self._farewell is not None:  # a second signal: no more waiting
                    previous(signum, frame)
                    return
                loop.call_soon_threadsafe(self._begin_farewell, previous, signum, frame)

            self._previous_handlers[sig] = previous
            signal.signal(sig, handler)

    def _begin_farewell(self, previous: Any, signum: int, frame: FrameType | None) -> None:
        async def farewell() -> None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_FAREWELL_SECONDS):
                    await self.hub.shutdown()
            previous(signum, frame)

        if self._farewell is None:
            self._farewell = asyncio.get_running_loop().create_task(farewell())

    def _restore_signal_handlers(self) -> None:
        for sig, previous in self._previous_handlers.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, previous)
        self._previous_handlers.clear()
