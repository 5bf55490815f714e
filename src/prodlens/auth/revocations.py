"""Revoked sessions, shared by every worker through the state store."""

from __future__ import annotations

from prodlens.kit.state import StateStore


class Revocations:
    """Sessions whose access tokens must stop working now, checked on every request.

    An entry only needs to outlive the longest-lived access token of the session.
    """

    def __init__(self, store: StateStore, *, access_token_seconds: int) -> None:
        self.store = store
        self.ttl = access_token_seconds + 120

    async def revoke(self, *session_ids: str) -> None:
        for session_id in session_ids:
            await self.store.set(f"revoked:{session_id}", "1", ttl=self.ttl)

    async def is_revoked(self, session_id: str) -> bool:
        return await self.store.exists(f"revoked:{session_id}")
