"""Project API keys: create (secret shown once), list, revoke; authenticate a presented key."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.audit import service as audit
from prodlens.auth.models import User
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.ids import is_valid_id
from prodlens.kit.secrets import hash_secret
from prodlens.projects.api_key_format import new_key, prefix_of
from prodlens.projects.errors import ApiKeyNotFound, InvalidApiKey
from prodlens.projects.models import ApiKey, Project
from prodlens.projects.schemas import ApiKeyCreate
from prodlens.realtime.service import Publisher, check_access_after_commit

_LAST_USED_GRANULARITY = timedelta(minutes=1)  # fewer writes: last use to the minute


async def create(
    session: AsyncSession,
    *,
    project: Project,
    data: ApiKeyCreate,
    actor: User,
    clock: Clock,
    client: ClientInfo,
) -> tuple[ApiKey, str]:
    secret, prefix = new_key()
    key = ApiKey(
        project_id=project.id,
        name=data.name,
        prefix=prefix,
        key_hash=hash_secret(secret),
        scopes=sorted(set(data.scopes)),
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(key)
    await session.flush()
    audit.record(
        session,
        "api_key.created",
        at=clock.now(),
        client=client,
        actor_id=actor.id,
        details={
            "project_id": project.id,
            "key_id": key.id,
            "prefix": prefix,
            "scopes": key.scopes,
        },
    )
    return key, secret


async def list_keys(session: AsyncSession, project: Project) -> list[ApiKey]:
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.project_id == project.id).order_by(ApiKey.created_at.desc())
    )
    return list(rows)


async def revoke(
    session: AsyncSession,
    *,
    project: Project,
    key_id: str,
    actor: User,
    clock: Clock,
    client: ClientInfo,
    publisher: Publisher | None = None,
) -> None:
    key = await session.get(ApiKey, key_id) if is_valid_id(key_id) else None
    if key is None or key.project_id != project.id:
        raise ApiKeyNotFound()
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        audit.record(
            session,
            "api_key.revoked",
            at=clock.now(),
            client=client,
            actor_id=actor.id,
            details={"project_id": project.id, "key_id": key.id, "prefix": key.prefix},
        )
    await session.flush()
    check_access_after_commit(session, publisher, project.id)


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
