"""Lockout per login identifier, whether or not an account has that name.

Counting unknown identifiers too means a lockout reveals nothing about which
accounts exist. A password reset or an admin lifts it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from prodlens.kit.clock import Clock
from prodlens.kit.state import StateStore


def _key(identifier: str) -> str:
    # Hashed: identifiers are user input of any shape; keys stay short and opaque.
    return hashlib.sha256(identifier.strip().casefold().encode()).hexdigest()[:40]


class Lockout:
    def __init__(self, store: StateStore, clock: Clock, *, threshold: int, minutes: int) -> None:
        self.store = store
        self.clock = clock
        self.threshold = threshold
        self.duration = timedelta(minutes=minutes)

    async def locked_until(self, identifier: str) -> datetime | None:
        value = await self.store.get(f"lock:{_key(identifier)}")
        if value is None:
            return None
        until = datetime.fromisoformat(value)
        return until if until > self.clock.now() else None

    async def record_failure(self, identifier: str) -> bool:
        """Count a failed attempt; True when this failure locks the identifier."""
        key = _key(identifier)
        ttl = int(self.duration.total_seconds())
        failures = await self.store.incr(f"failures:{key}", ttl=ttl)
        if failures < self.threshold:
            return False
        until = self.clock.now() + self.duration
        await self.store.set(f"lock:{key}", until.isoformat(), ttl=ttl + 60)
        await self.store.delete(f"failures:{key}")
        return True

    async def clear(self, *identifiers: str) -> None:
        keys = [_key(identifier) for identifier in identifiers]
        await self.store.delete(*(f"lock:{k}" for k in keys), *(f"failures:{k}" for k in keys))
