"""Account administration: list, create, change role/tier/status, delete, unlock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit import service as audit
from prodlens.auth import service as accounts
from prodlens.auth.models import Role, User
from prodlens.auth.runtime import AuthRuntime
from prodlens.kit.client import ClientInfo
from prodlens.kit.errors import NotFound, ProblemError
from prodlens.users.schemas import UserCreate, UserUpdate


class UserNotFound(NotFound):
    code, title = "users.not_found", "No such user"


class EmailTaken(ProblemError):
    status, code, title = 409, "users.email_taken", "Email already registered"


class LastAdmin(ProblemError):
    status, code, title = 409, "users.last_admin", "The last active admin must stay an admin"


class SelfChange(ProblemError):
    status, code, title = 409, "users.self_change", "Admins cannot deactivate or delete themselves"


def list_statement(
    *, search: str | None, role: str | None, active: bool | None, tier: str | None
) -> Select[User]:
    statement = select(User)
    if search:
        pattern = f"%{search.strip().lower()}%"
        statement = statement.where(
            or_(
                User.email_key.like(pattern),
                User.username_key.like(pattern),
                func.lower(User.display_name).like(pattern),
            )
        )
    if role:
        statement = statement.where(User.role == role)
    if active is not None:
        statement = statement.where(User.is_active == active)
    if tier:
        statement = statement.where(User.tier == tier)
    return statement


async def get_user(session: AsyncSession, user_id: str, *, for_change: bool = False) -> User:
    """The account; `for_change` locks its row (PostgreSQL) until the request ends, so a
    change and a concurrent delete take turns: a change after the delete finds no
    account (404) instead of writing audit events for one that is gone."""
    user = await session.get(
        User, user_id, with_for_update=for_change or None, populate_existing=for_change
    )
    if user is None:
        raise UserNotFound()
    return user


async def create(
    session: AsyncSession,
    runtime: AuthRuntime,
    *,
    admin: User,
    data: UserCreate,
    client: ClientInfo,
) -> User:
    accounts.check_password(runtime, data.password, email=data.email, username=data.username)
    account = accounts.NewAccount(data.email, data.username, data.password, data.display_name)
    try:
        user = await accounts.create_user(
            session, runtime, account, role=Role(data.role), verified=data.is_verified
        )
    except IntegrityError:
        raise EmailTaken("An account already uses this email address.") from None
    audit.record(
        session,
        "user.created",
        at=runtime.clock.now(),
        client=client,
        user_id=user.id,
        actor_id=admin.id,
        details={"role": data.role},
    )
    return user


async def _active_admins(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).where(User.role == Role.ADMIN, User.is_active.is_(True))
    )
    return int(count or 0)


async def update(
    session: AsyncSession,
    runtime: AuthRuntime,
    *,
    admin: User,
    user: User,
    changes: UserUpdate,
    client: ClientInfo,
) -> User:
    fields = changes.model_dump(exclude_unset=True, exclude_none=True)
    demoted = fields.get("role") == Role.USER and user.role == Role.ADMIN
    deactivated = fields.get("is_active") is False and user.is_active
    if deactivated and user.id == admin.id:
        raise SelfChange("Ask another admin to deactivate your account.")
    if (demoted or deactivated) and user.role == Role.ADMIN and await _active_admins(session) <= 1:
        raise LastAdmin("Promote another admin first.")

    events: list[tuple[str, dict[str, Any]]] = []
    if "role" in fields and fields["role"] != user.role:
        events.append(("user.role_changed", {"from": user.role, "to": fields["role"]}))
    if "tier" in fields and fields["tier"] != user.tier:
        events.append(("user.tier_changed", {"from": user.tier, "to": fields["tier"]}))
    if "is_active" in fields and fields["is_active"] != user.is_active:
        events.append(("user.activated" if fields["is_active"] else "user.deactivated", {}))
    for name, value in fields.items():
        setattr(user, name, value)
    user.updated_at = runtime.clock.now()
    if deactivated:
        await accounts.revoke_sessions(session, runtime, user_id=user.id, reason="deactivated")
    for event_type, details in events:
        audit.record(
            session,
            event_type,
            at=runtime.clock.now(),
            client=client,
            user_id=user.id,
            actor_id=admin.id,
            details=details,
        )
    await session.flush()
    return user


async def delete(
    session: AsyncSession, runtime: AuthRuntime, *, admin: User, user: User, client: ClientInfo
) -> None:
    if user.id == admin.id:
        raise SelfChange("Ask another admin to delete your account.")
    if user.role == Role.ADMIN and user.is_active and await _active_admins(session) <= 1:
        raise LastAdmin("Promote another admin first.")
    await accounts.revoke_sessions(session, runtime, user_id=user.id, reason="deleted")
    audit.record(
        session,
        "user.deleted",
        at=runtime.clock.now(),
        client=client,
        actor_id=admin.id,
        identifier=user.username,
        details={"user_id": user.id},
    )
    await session.delete(user)
    await session.flush()


async def unlock(
    session: AsyncSession, runtime: AuthRuntime, *, admin: User, user: User, client: ClientInfo
) -> None:
    await runtime.lockout.clear(user.username, user.email)
    audit.record(
        session,
        "user.unlocked",
        at=runtime.clock.now(),
        client=client,
        user_id=user.id,
        actor_id=admin.id,
    )
