"""Project API keys: create (secret shown once), list, revoke."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit import service as audit
from prodlens.auth.models import User
from prodlens.auth.tokens import hash_secret
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.ids import is_valid_id
from prodlens.projects import keys
from prodlens.projects.errors import ApiKeyNotFound
from prodlens.projects.models import ApiKey, Project
from prodlens.projects.schemas import ApiKeyCreate


async def create(
    session: AsyncSession,
    *,
    project: Project,
    data: ApiKeyCreate,
    actor: User,
    clock: Clock,
    client: ClientInfo,
) -> tuple[ApiKey, str]:
    secret, prefix = keys.new_key()
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
