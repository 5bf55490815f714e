"""`/api/v1/projects/{project_id}/developers/{developer_id}/identities`: one developer
across sources. Readers see the links; maintainers link and unlink."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import identities
from prodlens.analytics.models import DeveloperIdentity
from prodlens.analytics.schemas import IdentityLink, IdentityList, IdentityPublic
from prodlens.audit import service as audit
from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep, ClockDep
from prodlens.kit.errors import problem_responses
from prodlens.projects.deps import SCOPED, ProjectContext, ProjectMaintainer, ProjectReader

router = APIRouter(
    prefix="/api/v1/projects/{project_id}/developers/{developer_id}/identities",
    tags=["developers"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)
DeveloperId = Annotated[str, Path(min_length=1, max_length=128)]


def _public(link: DeveloperIdentity) -> IdentityPublic:
    return IdentityPublic(
        id=link.id,
        identity=link.identity,
        developer_id=link.developer_id,
        kind=link.kind,
        automatic=link.linked_by is None,
        linked_by=link.linked_by,
        created_at=link.created_at,
    )


def _audit(
    session: AsyncSession,
    event_type: str,
    context: ProjectContext,
    link: DeveloperIdentity,
    clock: Clock,
    client: ClientInfo,
) -> None:
    assert context.user is not None
    audit.record(
        session,
        event_type,
        at=clock.now(),
        client=client,
        actor_id=context.user.id,
        details={
            "project_id": context.project.id,
            "developer_id": link.developer_id,
            "identity": link.identity,
            "kind": link.kind,
        },
    )


@router.get(
    "",
    response_model=IdentityList,
    summary="The identities linked to a developer (its data under them counts as its own)",
)
async def list_developer_identities(
    context: ProjectReader, session: SessionDep, developer_id: DeveloperId
) -> IdentityList:
    links = await identities.list_identities(session, context.project.id, developer_id)
    return IdentityList(developer_id=developer_id, items=[_public(link) for link in links])


@router.post(
    "",
    status_code=201,
    response_model=IdentityPublic,
    summary="Link an identity to a developer: every KPI, profile and export counts it as theirs",
    responses={
        200: {"model": IdentityPublic, "description": "Already linked to this developer."},
        **problem_responses(identities.IdentityTaken, identities.IdentityChained),
    },
)
async def link_developer_identity(
    body: IdentityLink,
    context: ProjectMaintainer,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
    response: Response,
    developer_id: DeveloperId,
) -> IdentityPublic:
    assert context.user is not None  # maintainers are people: keys cannot link
    link, created = await identities.link_identity(
        session,
        context.project.id,
        developer_id,
        identity=body.identity,
        kind=body.kind,
        user_id=context.user.id,
        now=clock.now(),
    )
    if created:
        _audit(session, "developer.identity_linked", context, link, clock, client)
    else:
        response.status_code = 200  # already linked: nothing changed
    return _public(link)


@router.delete(
    "/{link_id}",
    status_code=204,
    summary="Unlink an identity: its data counts as its own id's again",
    responses=problem_responses(identities.IdentityNotFound),
)
async def unlink_developer_identity(
    context: ProjectMaintainer,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
    developer_id: DeveloperId,
    link_id: Annotated[str, Path(max_length=36)],
) -> Response:
    assert context.user is not None
    link = await identities.unlink_identity(session, context.project.id, developer_id, link_id)
    _audit(session, "developer.identity_unlinked", context, link, clock, client)
    return Response(status_code=204)
