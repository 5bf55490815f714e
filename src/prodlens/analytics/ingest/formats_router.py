"""Ingest routes for other tools' formats: LiteLLM's logging payload and OTLP/HTTP traces.

Each has a project-scoped route (members with `maintainer`, or an `ingest` key
of the project) and a key-scoped one (the key's own project), so a LiteLLM
proxy or an OpenTelemetry exporter needs only an endpoint and an `X-API-Key`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from prodlens.analytics.ingest import litellm, otlp_wire, service
from prodlens.analytics.ingest.routing import ingest_json, limit_ingest, new_ingest_router
from prodlens.analytics.ingest.service import IngestResponse
from prodlens.config import Settings
from prodlens.kit.clock import Clock
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClockDep, SettingsDep
from prodlens.kit.errors import (
    BadRequest,
    MalformedJson,
    UnsupportedMediaType,
    problem_responses,
)
from prodlens.projects.deps import SCOPED, IngestKey, ProjectContext, ProjectIngest
from prodlens.realtime.deps import PublisherDep
from prodlens.realtime.service import Publisher

router = new_ingest_router()
# LiteLLM may send no content type (or a wrong one): its routes let the body decide.
LITELLM_BODY = {
    "required": True,
    "description": "LiteLLM `StandardLoggingPayload` objects: a JSON array (LiteLLM's "
    "`json_array` log format), NDJSON (`ndjson`) or one object (`single`).",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": {"type": "object"}},
                    {"type": "object"},
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}
OTLP_BODY = {
    "required": True,
    "description": "An OTLP `ExportTraceServiceRequest`. Spans with GenAI model-call "
    "attributes (`gen_ai.*`) become events; other spans are ignored. "
    "`Content-Encoding: gzip` is accepted.",
    "content": {
        otlp_wire.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        otlp_wire.JSON: {
            "schema": {
                "type": "object",
                "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}},
            }
        },
    },
}
OTLP_OK: dict[str, Any] = {
    "description": "An OTLP `ExportTraceServiceResponse`, in the request's encoding; "
    "`partialSuccess` counts rejected spans and gives the first reasons.",
    "content": {
        otlp_wire.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        otlp_wire.JSON: {
            "schema": {
                "type": "object",
                "properties": {
                    "partialSuccess": {
                        "type": "object",
                        "properties": {
                            "rejectedSpans": {"type": "string"},
                            "errorMessage": {"type": "string"},
                        },
                    }
                },
            }
        },
    },
}
OTLP_PROBLEMS = (otlp_wire.InvalidOtlp, MalformedJson, BadRequest, UnsupportedMediaType)


@router.post(
    "/projects/{project_id}/ingest/litellm",
    response_model=IngestResponse,
    summary="Ingest LiteLLM logging payloads (its generic API logger's batches)",
    openapi_extra={"requestBody": LITELLM_BODY},
    responses=problem_responses(*SCOPED),
)
async def ingest_litellm(
    request: Request,
    context: ProjectIngest,
    session: SessionDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> IngestResponse:
    return await ingest_json(
        request, context, session, clock, publisher, source="litellm", adapt=litellm.to_event
    )


@router.post(
    "/ingest/litellm",
    response_model=IngestResponse,
    summary="Ingest LiteLLM logging payloads with an API key (the key's project)",
    openapi_extra={"requestBody": LITELLM_BODY},
)
async def ingest_litellm_with_key(
    request: Request,
    context: IngestKey,
    session: SessionDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> IngestResponse:
    return await ingest_json(
        request, context, session, clock, publisher, source="litellm", adapt=litellm.to_event
    )


async def _otlp(
    request: Request,
    context: ProjectContext,
    session: SessionDep,
    settings: Settings,
    clock: Clock,
    publisher: Publisher,
) -> Response:
    await limit_ingest(request, context)
    body = await request.body()
    reply = await service.ingest_otlp_traces(
        session,
        context.project,
        body,
        media_type=request.headers.get("content-type", "").split(";")[0].strip().lower(),
        encoding=request.headers.get("content-encoding", "").strip().lower(),
        limit=settings.http.max_ingest_body_bytes,
        clock=clock,
        publisher=publisher,
    )
    return Response(reply.content, media_type=reply.media_type)


@router.post(
    "/projects/{project_id}/ingest/otlp/v1/traces",
    response_class=Response,
    summary="Ingest OpenTelemetry GenAI spans (OTLP/HTTP, protobuf or JSON)",
    openapi_extra={"requestBody": OTLP_BODY},
    responses={200: OTLP_OK, **problem_responses(*OTLP_PROBLEMS, *SCOPED)},
)
async def ingest_otlp_traces(
    request: Request,
    context: ProjectIngest,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> Response:
    return await _otlp(request, context, session, settings, clock, publisher)


@router.post(
    "/ingest/otlp/v1/traces",
    response_class=Response,
    summary="Ingest OpenTelemetry GenAI spans with an API key (OTLP/HTTP exporter endpoint)",
    openapi_extra={"requestBody": OTLP_BODY},
    responses={200: OTLP_OK, **problem_responses(*OTLP_PROBLEMS)},
)
async def ingest_otlp_traces_with_key(
    request: Request,
    context: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> Response:
    return await _otlp(request, context, session, settings, clock, publisher)
