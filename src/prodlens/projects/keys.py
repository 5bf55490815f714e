"""API keys for machines: `pl_<prefix>_<secret>`, shown once, stored as a SHA-256 hash.

The prefix is stored in clear to find the key and to show it in lists; the
secret part carries 256 random bits.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.auth.tokens import hash_secret
from prodlens.projects.errors import InvalidApiKey
from prodlens.projects.models import ApiKey

KEY_MARKER = "pl_"
_LAST_USED_GRANULARITY = timedelta(minutes=1)  # fewer writes: last use to the minute


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = secrets.token_hex(4)
    return f"{KEY_MARKER}{prefix}_{secrets.token_urlsafe(32)}", f"{KEY_MARKER}{prefix}"


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_MARKER)


def prefix_of(presented: str) -> str | None:
    """`pl_<8 hex>` of `pl_<8 hex>_<secret>`; the secret is URL-safe base64 and may
    itself contain "_", so only the first two underscores separate."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_MARKER or not parts[1] or not parts[2]:
        return None
    return f"{parts[0]}_{parts[1]}"


async def authenticate(session: AsyncSession, presented: str, *, now: datetime) -> ApiKey:
    prefix = prefix_of(presented)
    if prefix is None:
        raise InvalidApiKey()
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        raise InvalidApiKey()
    if not hmac.compare_digest(key.key_hash, hash_secret(presented)):
        raise InvalidApiKey()
    return key


def needs_touch(key: ApiKey, now: datetime) -> bool:
    return key.last_used_at is None or now - key.last_used_at > _LAST_USED_GRANULARITY


async def touch(sessionmaker: async_sessionmaker[AsyncSession], key_id: str, now: datetime) -> None:
    """Record a key's last use in a transaction of its own: a read request stays a read
    (on SQLite, concurrent reads would otherwise contend for the write lock)."""
    async with sessionmaker() as session, session.begin():
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
