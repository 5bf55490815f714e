"""When the database fails: 503 with `Retry-After`, fast, and one warning per outage.

An error that means "the database cannot serve this now" (refused, dropped, timed
out, shutting down, disk full, read-only) becomes `503 service.unavailable`, never
a 500. The errors that say the database itself is gone (not one slow statement)
open an *outage*: one warning is logged, new PostgreSQL connections fail at once
instead of each waiting out its connect timeout, and a probe runs every half
second until the database answers again (one info line). Readiness reports the
outage, so a load balancer stops sending traffic meanwhile.

On SQLite an outage means writes fail (a full or read-only disk); reads go on, so
nothing is refused up front there, and the probe is a real write.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy import exc as sa_exc
from starlette.responses import Response
from starlette.types import Scope

from prodlens.kit.errors import ServiceUnavailable, correlation_id_of, problem_response
from prodlens.observability import metrics

log = structlog.get_logger(__name__)

PROBE_INTERVAL_SECONDS = 0.5
# How long shutting down waits for a probe in flight (PostgreSQL's connect timeout is 3 s).
PROBE_STOP_SECONDS = 5.0
# Below this much free space on SQLite's volume, writes are expected to fail soon:
# readiness says so before a request finds out.
MIN_FREE_BYTES = 4 * 1024 * 1024

# PostgreSQL SQLSTATE classes and codes that mean "not now" rather than "bad request".
_OUTAGE_SQLSTATE_CLASSES = ("08", "57", "58")  # connection, operator intervention, system
_RESOURCES_SQLSTATE_CLASS = "53"  # disk full, out of memory, too many connections
_STATEMENT_TIMEOUT = "57014"  # query_canceled: one slow statement, not an outage
_SQLITE_OUTAGE = ("disk is full", "readonly database", "disk i/o error", "unable to open")
_SQLITE_BUSY = ("database is locked", "database table is locked")


class DatabaseUnavailable(ServiceUnavailable):
    """Raised instead of connecting while an outage is open."""


Kind = Literal["outage", "timeout", "pool", "busy"]


@dataclass(frozen=True)
class Verdict:
    """What a database error means: `outage` when the database as a whole is gone, else
    one slow statement (`timeout`), no free connection (`pool`) or a busy SQLite (`busy`)."""

    kind: Kind
    reason: str

    @property
    def outage(self) -> bool:
        return self.kind == "outage"


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, getattr(error, "orig", None), getattr(error, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    orig = getattr(error, "orig", None)
    cause = getattr(orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None)
    return code if isinstance(code, str) else None


def classify(error: BaseException) -> Verdict | None:
    """A verdict for an error that means the database is unavailable, else None."""
    if isinstance(error, DatabaseUnavailable):
        return Verdict("outage", "outage")
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return Verdict("pool", "pool exhausted")
    if isinstance(error, TimeoutError | ConnectionError | socket.gaierror) or (
        isinstance(error, OSError) and str(error).startswith("Multiple exceptions")
    ):
        # Raised raw by the driver on connect, and on a statement that got no answer.
        return Verdict("outage", type(error).__name__)
    if not isinstance(error, sa_exc.DBAPIError):
        return None
    if error.connection_invalidated:
        return Verdict("outage", "connection lost")
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError) or "sqlite" in type(orig).__module__:
        message = str(orig).lower()
        if any(part in message for part in _SQLITE_OUTAGE):
            return Verdict("outage", message)
        if any(part in message for part in _SQLITE_BUSY):
            return Verdict("busy", "database busy")
        return None
    code = _sqlstate(error)
    if code == _STATEMENT_TIMEOUT:
        return Verdict("timeout", "statement timeout")
    if code is not None and code.startswith(_OUTAGE_SQLSTATE_CLASSES):
        return Verdict("outage", f"sqlstate {code}")
    if code is not None and code.startswith(_RESOURCES_SQLSTATE_CLASS):
        # Reads may go on, and a probe would find the server up: each failure counts.
        return Verdict("busy", f"sqlstate {code}")
    if isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError) and code is None:
        return Verdict("outage", type(orig).__name__)
    return None


def unavailable_response(scope: Scope, error: Exception) -> Response | None:
    """The 503 for an error that means the database is unavailable, else None."""
    verdict = classify(error)
    if verdict is None:
        return None
    database = getattr(scope["app"].state, "database", None)
    outage: Outage | None = getattr(database, "outage", None)
    if verdict.outage and outage is not None:
        outage.open(verdict.reason)  # a connect error never reaches the engine's events
    elif verdict.kind == "pool":
        log.warning("database_pool_exhausted")
    metrics.DB_UNAVAILABLE.labels(verdict.kind).inc()
    retry_after = outage.retry_after if outage is not None else 5
    return problem_response(
        ServiceUnavailable,
        instance=scope.get("path"),
        correlation_id=correlation_id_of(scope),
        detail="The database is unavailable or busy; retry shortly.",
        headers={"Retry-After": str(retry_after)},
    )


def free_bytes(path: str) -> tuple[int, bool]:
    """Free bytes on the volume holding `path`, and whether it is mounted read-only."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize, bool(stats.f_flag & os.ST_RDONLY)


class Outage:
    """Whether the database is in an outage, and the probe that ends it."""

    def __init__(
        self, backend: str, probe: Callable[[], Awaitable[None]], *, retry_after: int
    ) -> None:
        self.backend = backend
        self.retry_after = retry_after
        self._probe = probe
        self._since: float | None = None
        self.reason: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._probing = False
        self._stopping = False

    @property
    def is_open(self) -> bool:
        return self._since is not None

    def unavailable(self, detail: str | None = None) -> DatabaseUnavailable:
        metrics.DB_UNAVAILABLE.labels("outage").inc()
        return DatabaseUnavailable(
            detail or "The database is unavailable; retry shortly.",
            headers={"Retry-After": str(self.retry_after)},
        )

    def observe(self, error: BaseException) -> Verdict | None:
        """Note a failed database call; opens an outage when the error says so."""
        verdict = classify(error)
        if verdict is None:
            return None
        if verdict.outage:
            self.open(verdict.reason)
        elif not self.is_open:  # a slow statement or a busy moment: worth a line each
            log.warning("database_busy", backend=self.backend, reason=verdict.reason)
        return verdict

    def open(self, reason: str) -> None:
        if self._since is not None or self._stopping:
            return
        self._since = time.monotonic()
        self.reason = reason
        metrics.DB_OUTAGE.set(1)
        log.warning("database_unavailable", backend=self.backend, reason=reason)
        try:
            self._task = asyncio.get_running_loop().create_task(
                self._probe_until_back(), name="database-probe"
            )
        except RuntimeError:  # no loop (a synchronous caller): the next check probes
            self._task = None

    def _close(self) -> None:
        if self._since is None:
            return
        seconds = round(time.monotonic() - self._since, 3)
        self._since = None
        self.reason = None
        metrics.DB_OUTAGE.set(0)
        log.info("database_recovered", backend=self.backend, outage_seconds=seconds)

    async def probe_once(self) -> bool:
        try:
            await self._probe()
        except Exception as error:
            verdict = classify(error)
            self.reason = verdict.reason if verdict is not None else type(error).__name__
            return False
        self._close()
        return True

    async def _probe_until_back(self) -> None:
        while self.is_open and not self._stopping:
            await asyncio.sleep(PROBE_INTERVAL_SECONDS)
            self._probing = True
            try:
                await self.probe_once()
            finally:
                self._probing = False

    async def stop(self) -> None:
        """End the probe. One in flight is let finish: the driver's call, cancelled, would
        go on in its thread (aiosqlite) and answer a loop that is gone by then."""
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        if not self._probing:
            task.cancel()
        await asyncio.wait({task}, timeout=PROBE_STOP_SECONDS)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
