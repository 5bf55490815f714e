"""Ingest routes. Project-scoped (members with `maintainer`, or an `ingest` key of the
project) and key-scoped (the project is the API key's own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.ingest import service
from prodlens.analytics.ingest.payload import read_json
from prodlens.analytics.ingest.service import BatchTooLarge, IngestResponse, InvalidBatch
from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.errors import MalformedJson, PayloadTooLarge, problem_responses
from prodlens.projects.deps import SCOPED, IngestKey, ProjectContext, ProjectIngest
from prodlens.ratelimit.enforce import enforce_request
from prodlens.ratelimit.limiter import RateLimited


def new_ingest_router() -> APIRouter:
    """What every ingest router shares: prefix, tag, route class and the problems any
    ingest route can answer."""
    return APIRouter(
        prefix="/api/v1",
        tags=["ingest"],
        route_class=InstrumentedRoute,
        responses=problem_responses(
            NotAuthenticated,
            MalformedJson,
            InvalidBatch,
            BatchTooLarge,
            PayloadTooLarge,
            RateLimited,
        ),
    )


router = new_ingest_router()
NATIVE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": {"$ref": "#/components/schemas/EventIn"}},
                    {
                        "type": "object",
                        "properties": {
                            "events": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/EventIn"},
                            }
                        },
                    },
                    {"$ref": "#/components/schemas/EventIn"},
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


async def limit_ingest(request: Request, context: ProjectContext) -> None:
    """Machines are limited per key; people per project."""
    key = f"key:{context.api_key.id}" if context.api_key else f"project:{context.project.id}"
    await enforce_request(request, "ingest", key)


async def ingest_json(
    request: Request,
    context: ProjectContext,
    session: AsyncSession,
    *,
    source: str,
    adapt: Callable[[Any], Any] | None = None,
) -> IngestResponse:
    """A JSON batch (array, `{"events": [...]}`, single object or NDJSON), each item
    mapped to the native shape by `adapt` when the format needs it."""
    await limit_ingest(request, context)
    document = await read_json(request)
    return await service.ingest_document(
        session,
        context.project,
        document,
        source=source,
        clock=request.app.state.clock,
        adapt=adapt,
    )


@router.post(
    "/projects/{project_id}/ingest/events",
    response_model=IngestResponse,
    summary="Ingest model-call events (native JSON, up to 1,000 per batch)",
    openapi_extra={"requestBody": NATIVE_BODY},
    responses=problem_responses(*SCOPED),
)
async def ingest_events(
    request: Request, context: ProjectIngest, session: SessionDep
) -> IngestResponse:
    return await ingest_json(request, context, session, source="native")


@router.post(
    "/ingest/events",
    response_model=IngestResponse,
    summary="Ingest events with an API key (the key's project)",
    openapi_extra={"requestBody": NATIVE_BODY},
)
async def ingest_events_with_key(
    request: Request, context: IngestKey, session: SessionDep
) -> IngestResponse:
    return await ingest_json(request, context, session, source="native")
