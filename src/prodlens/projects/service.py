"""Project rules: create, list, update, archive, delete, summary; members and roles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit import service as audit
from prodlens.auth.models import User
from prodlens.auth.service import find_by_identifier
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.projects.errors import (
    AlreadyMember,
    LastOwner,
    MemberNotFound,
    ProjectRoleRequired,
    SlugTaken,
    UserToAddNotFound,
)
from prodlens.projects.models import (
    ItemStatus,
    Project,
    ProjectMember,
    ProjectRole,
    ProjectStatus,
    WorkItem,
)
from prodlens.projects.schemas import ProjectCreate, ProjectUpdate
from prodlens.realtime.service import Publisher, check_access_after_commit


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60]
    return slug if len(slug) >= 2 else f"project-{slug}".strip("-")


async def _free_slug(session: AsyncSession, base: str) -> str:
    taken = set(await session.scalars(select(Project.slug).where(Project.slug.like(f"{base}%"))))
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


async def create(
    session: AsyncSession, *, owner: User, data: ProjectCreate, clock: Clock
) -> Project:
    now = clock.now()
    if data.slug is not None:
        if await session.scalar(select(Project.id).where(Project.slug == data.slug)):
            raise SlugTaken(f"The slug {data.slug!r} is in use.")
        slug = data.slug
    else:
        slug = await _free_slug(session, slugify(data.name))
    project = Project(
        name=data.name,
        slug=slug,
        description=data.description,
        status=ProjectStatus.ACTIVE,
        repos=list(data.repos),
        allowed_models=list(data.allowed_models),
        settings={},
        created_by=owner.id,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(project)
    except IntegrityError:  # a concurrent request took the slug
        raise SlugTaken(f"The slug {slug!r} is in use.") from None
    session.add(
        ProjectMember(project_id=project.id, user_id=owner.id, role=ProjectRole.OWNER, added_at=now)
    )
    await session.flush()
    return project


def list_statement(
    user: User,
    *,
    search: str | None,
    status: str | None,
    role: str | None,
) -> Select[Project, str]:
    """The caller's projects (with the caller's role), filtered."""
    statement: Select[Project, str] = (
        select(Project, ProjectMember.role)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.user_id == user.id)
    )
    if search:
        statement = statement.where(func.lower(Project.name).like(f"%{search.strip().lower()}%"))
    if status:
        statement = statement.where(Project.status == status)
    if role:
        statement = statement.where(ProjectMember.role == role)
    return statement


async def update(
    session: AsyncSession,
    *,
    project: Project,
    data: ProjectUpdate,
    role: ProjectRole,
    clock: Clock,
) -> Project:
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    if "status" in fields and role is not ProjectRole.OWNER:
        raise ProjectRoleRequired("Archiving or restoring a project needs the owner role.")
    if "slug" in fields and fields["slug"] != project.slug:
        taken = await session.scalar(select(Project.id).where(Project.slug == fields["slug"]))
        if taken:
            raise SlugTaken(f"The slug {fields['slug']!r} is in use.")
    for name, value in fields.items():
        setattr(project, name, list(value) if isinstance(value, list) else value)
    project.updated_at = clock.now()
    await session.flush()
    return project


async def delete(
    session: AsyncSession, project: Project, publisher: Publisher | None = None
) -> None:
    await session.delete(project)
    await session.flush()
    check_access_after_commit(session, publisher, project.id)


async def summary(session: AsyncSession, user: User) -> dict[str, Any]:
    mine = select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)
    by_status = dict(
        (
            await session.execute(
                select(Project.status, func.count())
                .where(Project.id.in_(mine))
                .group_by(Project.status)
            )
        ).all()
    )
    by_role = dict(
        (
            await session.execute(
                select(ProjectMember.role, func.count())
                .where(ProjectMember.user_id == user.id)
                .group_by(ProjectMember.role)
            )
        ).all()
    )
    members = await session.scalar(
        select(func.count(distinct(ProjectMember.user_id))).where(
            ProjectMember.project_id.in_(mine)
        )
    )
    open_items = await session.scalar(
        select(func.count())
        .select_from(WorkItem)
        .where(WorkItem.project_id.in_(mine), WorkItem.status != ItemStatus.DONE)
    )
    return {
        "projects": sum(by_status.values()),
        "by_status": by_status,
        "by_role": by_role,
        "members": int(members or 0),
        "open_items": int(open_items or 0),
    }


# --- members -------------------------------------------------------------------------


async def members(session: AsyncSession, project: Project) -> Sequence[tuple[ProjectMember, User]]:
    rows = await session.execute(
        select(ProjectMember, User)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project.id)
        .order_by(ProjectMember.added_at, User.username_key)
    )
    return [(member, user) for member, user in rows.all()]


async def is_member(session: AsyncSession, project_id: str, user_id: str) -> bool:
    return await session.get(ProjectMember, (project_id, user_id)) is not None


async def _owners(session: AsyncSession, project_id: str) -> int:
    count = await session.scalar(
        select(func.count()).where(
            ProjectMember.project_id == project_id, ProjectMember.role == ProjectRole.OWNER
        )
    )
    return int(count or 0)


async def add_member(
    session: AsyncSession,
    *,
    project: Project,
    identifier: str,
    role: ProjectRole,
    actor: User,
    clock: Clock,
    client: ClientInfo,
) -> tuple[ProjectMember, User]:
    user = await find_by_identifier(session, identifier.strip())
    if user is None or not user.is_active:
        raise UserToAddNotFound()
    if await is_member(session, project.id, user.id):
        raise AlreadyMember(f"{user.username} is already a member.")
    member = ProjectMember(project_id=project.id, user_id=user.id, role=role, added_at=clock.now())
    session.add(member)
    audit.record(
        session,
        "project.member_added",
        at=clock.now(),
        client=client,
        user_id=user.id,
        actor_id=actor.id,
        details={"project_id": project.id, "role": role},
    )
    await session.flush()
    return member, user


async def _member(session: AsyncSession, project: Project, user_id: str) -> ProjectMember:
    member = await session.get(ProjectMember, (project.id, user_id))
    if member is None:
        raise MemberNotFound()
    return member


async def change_role(
    session: AsyncSession,
    *,
    project: Project,
    user_id: str,
    role: ProjectRole,
    actor: User,
    clock: Clock,
    client: ClientInfo,
) -> tuple[ProjectMember, User]:
    member = await _member(session, project, user_id)
    demoted = member.role == ProjectRole.OWNER and role is not ProjectRole.OWNER
    if demoted and await _owners(session, project.id) <= 1:
        raise LastOwner("Make someone else an owner first.")
    before = member.role
    member.role = role
    audit.record(
        session,
        "project.member_role_changed",
        at=clock.now(),
        client=client,
        user_id=user_id,
        actor_id=actor.id,
        details={"project_id": project.id, "from": before, "to": role},
    )
    await session.flush()
    user = await session.get(User, user_id)
    assert user is not None  # a membership's user exists (foreign key)
    return member, user


async def remove_member(
    session: AsyncSession,
    *,
    project: Project,
    user_id: str,
    actor: User,
    actor_role: ProjectRole,
    clock: Clock,
    client: ClientInfo,
    publisher: Publisher | None = None,
) -> None:
    """Owners remove anyone; every member may leave (and their live feed stops)."""
    if user_id != actor.id and actor_role is not ProjectRole.OWNER:
        raise ProjectRoleRequired("Removing another member needs the owner role.")
    member = await _member(session, project, user_id)
    if member.role == ProjectRole.OWNER and await _owners(session, project.id) <= 1:
        raise LastOwner("The last owner cannot leave; make someone else an owner or delete it.")
    await session.delete(member)
    event = "project.member_left" if user_id == actor.id else "project.member_removed"
    audit.record(
        session,
        event,
        at=clock.now(),
        client=client,
        user_id=user_id,
        actor_id=actor.id,
        details={"project_id": project.id},
    )
    await session.flush()
    check_access_after_commit(session, publisher, project.id)


async def find_project(session: AsyncSession, reference: str) -> Project | None:
    """By id or by slug."""
    return await session.scalar(
        select(Project).where((Project.id == reference) | (Project.slug == reference.lower()))
    )
