"""`/api/v1/projects/{project_id}/api-keys`: keys for machines (maintainers)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep, ClockDep
from prodlens.kit.errors import problem_responses
from prodlens.projects import api_keys_service
from prodlens.projects.deps import SCOPED, ProjectMaintainer
from prodlens.projects.errors import ApiKeyNotFound
from prodlens.projects.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from prodlens.realtime.deps import PublisherDep

router = APIRouter(
    prefix="/api/v1/projects/{project_id}/api-keys",
    tags=["api keys"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)


@router.get("", response_model=list[ApiKeyPublic], summary="The project's API keys (no secrets)")
async def list_api_keys(context: ProjectMaintainer, session: SessionDep) -> list[ApiKeyPublic]:
    return [
        ApiKeyPublic.model_validate(key)
        for key in await api_keys_service.list_keys(session, context.project)
    ]


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key; its secret is in this response only",
)
async def create_api_key(
    body: ApiKeyCreate,
    context: ProjectMaintainer,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
) -> ApiKeyCreated:
    assert context.user is not None
    key, secret = await api_keys_service.create(
        session, project=context.project, data=body, actor=context.user, clock=clock, client=client
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=secret)


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke an API key (it stops working at once)",
    responses=problem_responses(ApiKeyNotFound),
)
async def revoke_api_key(
    key_id: str,
    context: ProjectMaintainer,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
    publisher: PublisherDep,
) -> Response:
    assert context.user is not None
    await api_keys_service.revoke(
        session,
        project=context.project,
        key_id=key_id,
        actor=context.user,
        clock=clock,
        client=client,
        publisher=publisher,
    )
    return Response(status_code=204)
