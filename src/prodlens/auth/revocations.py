"""Which sessions' access tokens still work: the database's answer, cached in the state store.

The database is the record (`auth_sessions.revoked_at`); the state store, shared
by every worker, caches it under `session:<id>`: the owner's user id while the
session is open, `REVOKED` once it is not. A session the store has no entry for
(its first request, a Redis that restarted empty or was flushed, an expired
entry, the local fallback while Redis is down) is looked up in the database and
the answer cached, so a sign-out holds whatever happens to the store.

The fast path is one store read per request, as before; a miss adds one primary-key
query. Open entries are kept for `OPEN_TTL_SECONDS` only: a revocation that could
not reach the shared store (Redis down at that moment) is then picked up from the
database within that time. See bench/bench_revocations.py for the cost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.auth.models import AuthSession
from prodlens.kit.ids import is_valid_id
from prodlens.kit.state import StateStore

# Told which sessions ended, after they are on the list (the live feed closes their sockets).
OnRevoke = Callable[[Sequence[str]], Awaitable[None]]

REVOKED = "revoked"  # never a user id (those are UUIDs)
OPEN_TTL_SECONDS = 60


class Revocations:
    """Sessions whose access tokens must stop working now, checked on every request."""

    def __init__(
        self,
        store: StateStore,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        access_token_seconds: int,
        on_revoke: OnRevoke | None = None,
    ) -> None:
        self.store = store
        self.sessionmaker = sessionmaker
        # A revoked entry only needs to outlive the longest-lived access token of the
        # session; after that the token is refused for its age (and a miss asks the database).
        self.revoked_ttl = access_token_seconds + 120
        self.open_ttl = OPEN_TTL_SECONDS
        self.on_revoke = on_revoke

    async def revoke(self, *session_ids: str) -> None:
        """Mark sessions revoked; the caller has written `revoked_at` in its transaction."""
        for session_id in session_ids:
            await self.store.set(_key(session_id), REVOKED, ttl=self.revoked_ttl)
        if session_ids and self.on_revoke is not None:
            await self.on_revoke(session_ids)

    async def is_revoked(self, session_id: str) -> bool:
        return await self._owner(session_id) == REVOKED

    async def is_open_for(self, session_id: str, user_id: str) -> bool:
        """Whether the session is open and belongs to `user_id` (a token's `sid` and `sub`)."""
        return await self._owner(session_id) == user_id

    async def _owner(self, session_id: str) -> str:
        cached = await self.store.get(_key(session_id))
        if cached is not None:
            return cached
        return await self._load(session_id)

    async def _load(self, session_id: str) -> str:
        owner: str | None = None
        if is_valid_id(session_id):
            async with self.sessionmaker() as session:
                row = (
                    await session.execute(
                        select(AuthSession.user_id, AuthSession.revoked_at).where(
                            AuthSession.id == session_id
                        )
                    )
                ).one_or_none()
            if row is not None and row.revoked_at is None:
                owner = row.user_id
        key = _key(session_id)
        if owner is None:  # revoked, or gone (the account was deleted)
            await self.store.set(key, REVOKED, ttl=self.revoked_ttl)
            return REVOKED
        # Never over a revocation written since the query: only if still absent.
        if await self.store.set_if_absent(key, owner, ttl=self.open_ttl):
            return owner
        return await self.store.get(key) or owner


def _key(session_id: str) -> str:
    return f"session:{session_id}"
