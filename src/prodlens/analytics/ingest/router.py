"""Ingest routes. Project-scoped (members with `maintainer`, or an `ingest` key of the
project) and key-scoped (the project is the API key's own)."""

from __future__ import annotations

from fastapi import Request

from prodlens.analytics.ingest.events import MAX_BATCH
from prodlens.analytics.ingest.routing import ingest_json, new_ingest_router
from prodlens.analytics.ingest.service import IngestResponse
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClockDep, SettingsDep
from prodlens.kit.errors import problem_responses
from prodlens.projects.deps import SCOPED, IngestKey, ProjectIngest
from prodlens.realtime.deps import PublisherDep

router = new_ingest_router()
# Every alternative is closed (`EventIn` forbids unknown fields, the envelope holds only
# `events`), so a generated client refuses a misspelled field at compile time.
NATIVE_BODY = {
    "required": True,
    "description": 'Events as a JSON array, as `{"events": [...]}` or as one event, or '
    f"as NDJSON (one event per line); at most {MAX_BATCH} per batch.",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/EventIn"},
                        "maxItems": MAX_BATCH,
                    },
                    {"$ref": "#/components/schemas/EventBatch"},
                    {"$ref": "#/components/schemas/EventIn"},
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


@router.post(
    "/projects/{project_id}/ingest/events",
    response_model=IngestResponse,
    summary="Ingest model-call events (native JSON, up to 1,000 per batch)",
    openapi_extra={"requestBody": NATIVE_BODY},
    responses=problem_responses(*SCOPED),
)
async def ingest_events(
    request: Request,
    context: ProjectIngest,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> IngestResponse:
    return await ingest_json(
        request,
        context,
        session,
        clock,
        publisher,
        source="native",
        max_depth=settings.http.max_json_depth,
    )


@router.post(
    "/ingest/events",
    response_model=IngestResponse,
    summary="Ingest events with an API key (the key's project)",
    openapi_extra={"requestBody": NATIVE_BODY},
)
async def ingest_events_with_key(
    request: Request,
    context: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> IngestResponse:
    return await ingest_json(
        request,
        context,
        session,
        clock,
        publisher,
        source="native",
        max_depth=settings.http.max_json_depth,
    )
