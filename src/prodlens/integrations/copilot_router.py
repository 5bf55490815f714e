"""A project's GitHub Copilot usage-metrics fetching: which organization or enterprise,
and the token (members read the status, maintainers change it)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from prodlens.auth.errors import NotAuthenticated
from prodlens.config import Settings
from prodlens.http.access import InstrumentedRoute
from prodlens.integrations import copilot_fetch
from prodlens.integrations.schemas import CopilotIntegration, CopilotIntegrationSet
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep, ClockDep, SettingsDep
from prodlens.kit.errors import problem_responses
from prodlens.projects.deps import SCOPED, ProjectMaintainer, ProjectViewer
from prodlens.projects.models import Project

router = APIRouter(
    prefix="/api/v1/projects/{project_id}/integrations/copilot",
    tags=["integrations"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)


def _status(project: Project, settings: Settings) -> CopilotIntegration:
    return copilot_fetch.integration_status(
        project,
        secret_key=settings.secret_key.get_secret_value(),
        interval_minutes=settings.copilot.fetch_interval_minutes,
    )


@router.get(
    "",
    response_model=CopilotIntegration,
    summary="The project's Copilot usage-metrics fetch: account, token set or not, last fetch",
)
async def get_copilot_integration(
    context: ProjectViewer, settings: SettingsDep
) -> CopilotIntegration:
    return _status(context.project, settings)


@router.put(
    "",
    response_model=CopilotIntegration,
    summary="Set the organization or enterprise and the token to fetch Copilot usage "
    "reports with (maintainers); the token is never shown again",
)
async def set_copilot_integration(
    body: CopilotIntegrationSet,
    context: ProjectMaintainer,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    client: ClientDep,
) -> CopilotIntegration:
    assert context.user is not None  # member routes: never an API key
    await copilot_fetch.set_settings(
        session,
        context.project,
        organization=body.organization,
        enterprise=body.enterprise,
        token=body.token,
        secret_key=settings.secret_key.get_secret_value(),
        actor=context.user,
        clock=clock,
        client=client,
    )
    return _status(context.project, settings)


@router.delete(
    "",
    status_code=204,
    summary="Stop fetching Copilot usage reports (maintainers): the token is deleted; "
    "imported data stays",
)
async def delete_copilot_integration(
    context: ProjectMaintainer, session: SessionDep, clock: ClockDep, client: ClientDep
) -> Response:
    assert context.user is not None
    await copilot_fetch.remove_settings(
        session, context.project, actor=context.user, clock=clock, client=client
    )
    return Response(status_code=204)
