"""Revoked sessions, shared by every worker through the state store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from prodlens.kit.state import StateStore

# Told which sessions ended, after they are on the list (the live feed closes their sockets).
OnRevoke = Callable[[Sequence[str]], Awaitable[None]]


class Revocations:
    """Sessions whose access tokens must stop working now, checked on every request.

    An entry only needs to outlive the longest-lived access token of the session.
    """

    def __init__(
        self, store: StateStore, *, access_token_seconds: int, on_revoke: OnRevoke | None = None
    ) -> None:
        self.store = store
        self.ttl = access_token_seconds + 120
        self.on_revoke = on_revoke

    async def revoke(self, *session_ids: str) -> None:
        for session_id in session_ids:
            await self.store.set(f"revoked:{session_id}", "1", ttl=self.ttl)
        if session_ids and self.on_revoke is not None:
            await self.on_revoke(session_ids)

    async def is_revoked(self, session_id: str) -> bool:
        return await self.store.exists(f"revoked:{session_id}")
