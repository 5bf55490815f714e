"""The GitHub webhook (authenticated by its signature alone) and the project's GitHub
settings (members)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.auth.errors import NotAuthenticated
from prodlens.config import Settings
from prodlens.http.access import InstrumentedRoute
from prodlens.integrations import github
from prodlens.integrations.github import InvalidPayload, InvalidSignature, MissingWebhookHeader
from prodlens.integrations.schemas import (
    GitHubIntegration,
    GitHubIntegrationCreated,
    WebhookResult,
    WebhookSecretSet,
)
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep, ClockDep, SettingsDep
from prodlens.kit.errors import MalformedJson, PayloadTooLarge, problem_responses
from prodlens.projects.deps import SCOPED, ProjectContext, ProjectMaintainer, ProjectViewer
from prodlens.realtime.deps import PublisherDep

router = APIRouter(prefix="/api/v1", tags=["integrations"], route_class=InstrumentedRoute)
# The member routes; the webhook answers for its signature alone.
_MEMBER_ERRORS = (NotAuthenticated, *SCOPED)
_SETTINGS = "/projects/{project_id}/integrations/github"
_WEBHOOK_BODY = {
    "required": True,
    "description": "The delivery exactly as GitHub sends it; the signature covers these bytes.",
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": {"payload": {"type": "string"}}}
        },
    },
}


def _secret_key(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


def _webhook_url(request: Request, settings: Settings) -> str:
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + github.WEBHOOK_PATH


async def _status(
    request: Request, settings: Settings, context: ProjectContext, session: AsyncSession
) -> GitHubIntegration:
    return await github.integration_status(
        session,
        context.project,
        secret_key=_secret_key(settings),
        webhook_url=_webhook_url(request, settings),
    )


@router.post(
    "/integrations/github/webhook",
    response_model=WebhookResult,
    summary="GitHub webhook: push and pull_request (signed with the project's secret)",
    description=(
        "Point a repository (or organization) webhook here with the secret from "
        "`PUT /api/v1/projects/{project_id}/integrations/github`. The delivery is "
        "accepted for the project that lists the repository and whose secret verifies "
        "`X-Hub-Signature-256`; a delivery id seen before answers `duplicate` and "
        "changes nothing."
    ),
    openapi_extra={"requestBody": _WEBHOOK_BODY},
    responses=problem_responses(
        InvalidSignature, MissingWebhookHeader, MalformedJson, InvalidPayload, PayloadTooLarge
    ),
)
async def github_webhook(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    publisher: PublisherDep,
    x_github_event: Annotated[str | None, Header(max_length=64)] = None,
    x_github_delivery: Annotated[str | None, Header(max_length=100)] = None,
    x_hub_signature_256: Annotated[str | None, Header(max_length=100)] = None,
) -> WebhookResult:
    delivery = github.Delivery(
        event=x_github_event,
        delivery_id=x_github_delivery,
        signature=x_hub_signature_256,
        content_type=request.headers.get("content-type", ""),
        body=await request.body(),
    )
    return await github.receive(
        session, delivery, secret_key=_secret_key(settings), clock=clock, publisher=publisher
    )


@router.get(
    _SETTINGS,
    response_model=GitHubIntegration,
    summary="The project's GitHub webhook: configured or not, repositories, last delivery",
    responses=problem_responses(*_MEMBER_ERRORS),
)
async def get_github_integration(
    request: Request, settings: SettingsDep, context: ProjectViewer, session: SessionDep
) -> GitHubIntegration:
    return await _status(request, settings, context, session)


@router.put(
    _SETTINGS,
    response_model=GitHubIntegrationCreated,
    summary="Set or rotate the webhook secret (maintainers); shown in this response only",
    responses=problem_responses(*_MEMBER_ERRORS),
)
async def set_github_webhook_secret(
    body: WebhookSecretSet,
    request: Request,
    settings: SettingsDep,
    context: ProjectMaintainer,
    session: SessionDep,
    clock: ClockDep,
    client: ClientDep,
) -> GitHubIntegrationCreated:
    assert context.user is not None  # member routes: never an API key
    secret = await github.set_webhook_secret(
        session,
        context.project,
        secret=body.secret,
        secret_key=_secret_key(settings),
        actor=context.user,
        clock=clock,
        client=client,
    )
    status = await _status(request, settings, context, session)
    return GitHubIntegrationCreated(**status.model_dump(), secret=secret)


@router.delete(
    _SETTINGS,
    status_code=204,
    summary="Remove the webhook secret (maintainers): deliveries are refused from then on",
    responses=problem_responses(*_MEMBER_ERRORS),
)
async def delete_github_integration(
    context: ProjectMaintainer, session: SessionDep, clock: ClockDep, client: ClientDep
) -> Response:
    assert context.user is not None
    await github.remove_webhook_secret(
        session, context.project, actor=context.user, clock=clock, client=client
    )
    return Response(status_code=204)
