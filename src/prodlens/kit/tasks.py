"""Fire-and-forget work (emails, notifications) that must not delay or fail a request.

Tasks inherit the spawning context, so their log lines keep the request's
correlation id. Failures are logged, never raised. Shutdown waits for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from prodlens.kit.availability import classify

log = structlog.get_logger(__name__)


class TaskRunner:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or (error := task.exception()) is None:
            return
        if (verdict := classify(error)) is not None:
            # The database's outage has its own warning; one traceback per task would
            # bury it.
            log.info("background_task_failed", task=task.get_name(), reason=verdict.reason)
            return
        log.error("background_task_failed", task=task.get_name(), exc_info=error)

    async def drain(self, grace_seconds: float) -> None:
        """Wait for running tasks (graceful shutdown); cancel what is still running after."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
