"""Maintenance mode: 503 + `Retry-After` for everyone but health probes, metrics and admins.

On when the setting says so, or when an admin switched it on (a stored flag
each worker re-reads every few seconds).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from prodlens.kit.errors import Maintenance, correlation_id_of, problem_response

log = structlog.get_logger(__name__)

RELOAD_SECONDS = 3.0


class MaintenanceSwitch:
    def __init__(self, *, forced: bool, load: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.forced = forced
        self.load = load
        self._stored = False
        self._loaded_at = float("-inf")

    async def active(self) -> bool:
        if self.forced:
            return True
        if self.load is not None and time.monotonic() - self._loaded_at > RELOAD_SECONDS:
            self._loaded_at = time.monotonic()
            try:
                self._stored = await self.load()
            except Exception as exc:  # keep the last known value while the database is away
                log.warning("maintenance_flag_unreadable", error=type(exc).__name__)
        return self._stored

    def remember(self, enabled: bool) -> None:
        """The value this worker just committed; others read it on their next reload."""
        self._stored = enabled
        self._loaded_at = time.monotonic()


class MaintenanceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        switch: MaintenanceSwitch,
        exempt_prefixes: Sequence[str],
        retry_after: int,
        bypass: Callable[[Scope], Awaitable[bool]] | None = None,
    ) -> None:
        self.app = app
        self.switch = switch
        self.exempt_prefixes = tuple(exempt_prefixes)
        self.retry_after = retry_after
        self.bypass = bypass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope["path"].startswith(self.exempt_prefixes)
            and await self.switch.active()
            and not (self.bypass is not None and await self.bypass(scope))
        ):
            response = problem_response(
                Maintenance,
                instance=scope["path"],
                correlation_id=correlation_id_of(scope),
                detail="ProdLens is down for maintenance; try again later.",
                headers={"Retry-After": str(self.retry_after)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
