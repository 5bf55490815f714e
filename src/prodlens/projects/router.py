"""`/api/v1/projects`: projects and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from prodlens.auth.deps import CurrentUser
from prodlens.auth.errors import NotAuthenticated
from prodlens.auth.models import User
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep, ClockDep
from prodlens.kit.errors import problem_responses
from prodlens.kit.pagination import InvalidSort, Page, PageDep, Sorting, paginate_sorted
from prodlens.projects import service
from prodlens.projects.deps import (
    SCOPED,
    ProjectContext,
    ProjectMaintainer,
    ProjectOwner,
    ProjectReader,
    ProjectViewer,
)
from prodlens.projects.errors import (
    AlreadyMember,
    LastOwner,
    MemberNotFound,
    SlugTaken,
    UserToAddNotFound,
)
from prodlens.projects.models import Project, ProjectRole
from prodlens.projects.schemas import (
    MemberAdd,
    MemberPublic,
    MemberUpdate,
    ProjectCreate,
    ProjectPublic,
    ProjectSummary,
    ProjectUpdate,
    RoleName,
    StatusName,
)
from prodlens.realtime.deps import PublisherDep

router = APIRouter(
    prefix="/api/v1/projects",
    tags=["projects"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated),
)

SORTING = Sorting(
    {"name": Project.name, "created_at": Project.created_at, "updated_at": Project.updated_at},
    default="-created_at",
    tiebreaker=Project.id,
)


def _public(project: Project, role: str | None) -> ProjectPublic:
    return ProjectPublic.model_validate(project).model_copy(update={"role": role})


def _actor(context: ProjectContext) -> User:
    assert context.user is not None  # these routes do not accept API keys
    return context.user


@router.post(
    "",
    status_code=201,
    response_model=ProjectPublic,
    summary="Create a project (you become its owner)",
    responses=problem_responses(SlugTaken),
)
async def create_project(
    body: ProjectCreate, user: CurrentUser, session: SessionDep, clock: ClockDep
) -> ProjectPublic:
    project = await service.create(session, owner=user, data=body, clock=clock)
    return _public(project, ProjectRole.OWNER)


@router.get(
    "",
    response_model=Page[ProjectPublic],
    summary="Your projects (search by name, filter by status and role)",
    responses=problem_responses(InvalidSort),
)
async def list_projects(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    search: Annotated[str | None, Query(max_length=100)] = None,
    status: StatusName | None = None,
    role: RoleName | None = None,
    sort: Annotated[
        str | None, Query(description="name, created_at, updated_at; `-` desc.")
    ] = None,
) -> Page[ProjectPublic]:
    statement = service.list_statement(user, search=search, status=status, role=role)
    return await paginate_sorted(
        session,
        statement,
        page,
        sort=sort,
        sorting=SORTING,
        item=lambda row: _public(*row),  # (project, the caller's role)
        scalars=False,
    )


@router.get(
    "/stats/summary",
    response_model=ProjectSummary,
    summary="Counts across your projects: by status, by your role, members, open items",
)
async def project_summary(user: CurrentUser, session: SessionDep) -> ProjectSummary:
    return ProjectSummary(**await service.summary(session, user))


@router.get(
    "/{project_id}",
    response_model=ProjectPublic,
    summary="One project, by id or slug (members, or an API key with `read`)",
    responses=problem_responses(*SCOPED),
)
async def get_project(context: ProjectReader) -> ProjectPublic:
    return _public(context.project, context.role)


@router.patch(
    "/{project_id}",
    response_model=ProjectPublic,
    summary="Update a project (maintainers; archiving needs an owner)",
    responses=problem_responses(*SCOPED, SlugTaken),
)
async def update_project(
    body: ProjectUpdate, context: ProjectMaintainer, session: SessionDep, clock: ClockDep
) -> ProjectPublic:
    assert context.role is not None
    project = await service.update(
        session, project=context.project, data=body, role=context.role, clock=clock
    )
    return _public(project, context.role)


@router.delete(
    "/{project_id}",
    status_code=204,
    summary="Delete a project and all its data (owners)",
    responses=problem_responses(*SCOPED),
)
async def delete_project(
    context: ProjectOwner, session: SessionDep, publisher: PublisherDep
) -> Response:
    await service.delete(session, context.project, publisher)
    return Response(status_code=204)


@router.get(
    "/{project_id}/members",
    response_model=list[MemberPublic],
    summary="The project's members and roles",
    responses=problem_responses(*SCOPED),
)
async def list_members(context: ProjectViewer, session: SessionDep) -> list[MemberPublic]:
    return [
        MemberPublic.of(member, user)
        for member, user in await service.members(session, context.project)
    ]


@router.post(
    "/{project_id}/members",
    status_code=201,
    response_model=MemberPublic,
    summary="Add a member by username or email (owners)",
    responses=problem_responses(*SCOPED, UserToAddNotFound, AlreadyMember),
)
async def add_member(
    body: MemberAdd,
    context: ProjectOwner,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
) -> MemberPublic:
    member, user = await service.add_member(
        session,
        project=context.project,
        identifier=body.user,
        role=ProjectRole(body.role),
        actor=_actor(context),
        clock=clock,
        client=client,
    )
    return MemberPublic.of(member, user)


@router.patch(
    "/{project_id}/members/{user_id}",
    response_model=MemberPublic,
    summary="Change a member's role (owners; the last owner stays an owner)",
    responses=problem_responses(*SCOPED, MemberNotFound, LastOwner),
)
async def change_member_role(
    user_id: str,
    body: MemberUpdate,
    context: ProjectOwner,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
) -> MemberPublic:
    member, user = await service.change_role(
        session,
        project=context.project,
        user_id=user_id,
        role=ProjectRole(body.role),
        actor=_actor(context),
        clock=clock,
        client=client,
    )
    return MemberPublic.of(member, user)


@router.delete(
    "/{project_id}/members/{user_id}",
    status_code=204,
    summary="Remove a member (owners), or leave (yourself)",
    responses=problem_responses(*SCOPED, MemberNotFound, LastOwner),
)
async def remove_member(
    user_id: str,
    context: ProjectViewer,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
    publisher: PublisherDep,
) -> Response:
    assert context.role is not None  # a member: these routes do not accept API keys
    await service.remove_member(
        session,
        project=context.project,
        user_id=user_id,
        actor=_actor(context),
        actor_role=context.role,
        clock=clock,
        client=client,
        publisher=publisher,
    )
    return Response(status_code=204)
