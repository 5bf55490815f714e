"""Maintenance mode as a stored flag, read by every worker within seconds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.audit import service as audit
from prodlens.auth.models import User
from prodlens.http.maintenance import MaintenanceSwitch
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.db import after_commit
from prodlens.system.models import SystemFlag

MAINTENANCE = "maintenance"


async def maintenance_flag(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    async with sessionmaker() as session:
        value = await session.scalar(select(SystemFlag.value).where(SystemFlag.name == MAINTENANCE))
    return bool(value)


async def set_maintenance(
    session: AsyncSession,
    *,
    enabled: bool,
    switch: MaintenanceSwitch,
    admin: User,
    clock: Clock,
    client: ClientInfo,
) -> None:
    now = clock.now()
    flag = await session.get(SystemFlag, MAINTENANCE)
    if flag is None:
        session.add(
            SystemFlag(name=MAINTENANCE, value=enabled, updated_at=now, updated_by=admin.id)
        )
    else:
        flag.value, flag.updated_at, flag.updated_by = enabled, now, admin.id
    audit.record(
        session,
        "system.maintenance",
        at=now,
        client=client,
        actor_id=admin.id,
        details={"enabled": enabled},
    )
    await session.flush()

    # This worker follows at once, but only once committed: a rolled-back request must
    # not switch it. The others read the stored flag on their next reload.
    async def remember_maintenance() -> None:
        switch.remember(enabled)

    after_commit(session, remember_maintenance)
