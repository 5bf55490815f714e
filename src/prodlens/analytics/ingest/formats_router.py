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
# Other tools' payloads are open objects, and say so: LiteLLM and OpenTelemetry add
# fields between versions, and the server ignores the ones it does not map.
LITELLM_PAYLOAD = {
    "type": "object",
    "additionalProperties": True,
    "description": "A LiteLLM `StandardLoggingPayload` (open: fields ProdLens does not map "
    "are ignored).",
}
# LiteLLM may send no content type (or a wrong one): its routes let the body decide.
LITELLM_BODY = {
    "required": True,
    "description": "LiteLLM `StandardLoggingPayload` objects: a JSON array (LiteLLM's "
    "`json_array` log format), NDJSON (`ndjson`) or one object (`single`).",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": LITELLM_PAYLOAD},
                    LITELLM_PAYLOAD,
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
                "properties": {
                    "resourceSpans": {
                        "type": "array",
                        "items": {"type": "object", "additionalProperties": True},
                    }
                },
                "additionalProperties": True,
                "description": "OTLP/JSON (open: unknown fields are ignored, as OTLP asks).",
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
        source="litellm",
        max_depth=settings.http.max_json_depth,
        adapt=litellm.to_event,
        identify=litellm.sighting,
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
        source="litellm",
        max_depth=settings.http.max_json_depth,
        adapt=litellm.to_event,
        identify=litellm.sighting,
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
        max_depth=settings.http.max_json_depth,
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


# --- OTLP metrics and logs (Claude Code, OpenTelemetry GenAI metrics) ----------------


def _otlp_signal_body(message: str, field: str, description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": f"An OTLP `{message}`. {description} `Content-Encoding: gzip` is accepted.",
        "content": {
            otlp_wire.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            otlp_wire.JSON: {
                "schema": {
                    "type": "object",
                    "properties": {
                        field: {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": True},
                        }
                    },
                    "additionalProperties": True,
                    "description": "OTLP/JSON (open: unknown fields are ignored, as OTLP asks).",
                }
            },
        },
    }


def _otlp_signal_ok(message: str, counter: str, what: str) -> dict[str, Any]:
    return {
        "description": f"An OTLP `{message}`, in the request's encoding; `partialSuccess` "
        f"counts rejected {what} and gives the first reasons.",
        "content": {
            otlp_wire.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            otlp_wire.JSON: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "partialSuccess": {
                            "type": "object",
                            "properties": {
                                counter: {"type": "string"},
                                "errorMessage": {"type": "string"},
                            },
                        }
                    },
                }
            },
        },
    }


OTLP_METRICS_BODY = _otlp_signal_body(
    "ExportMetricsServiceRequest",
    "resourceMetrics",
    "Claude Code's `claude_code.*` counters and the GenAI client metrics "
    "(`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`) become daily "
    "facts, delta or cumulative; other metrics are ignored.",
)
OTLP_METRICS_OK = _otlp_signal_ok(
    "ExportMetricsServiceResponse", "rejectedDataPoints", "data points"
)
OTLP_LOGS_BODY = _otlp_signal_body(
    "ExportLogsServiceRequest",
    "resourceLogs",
    "Claude Code's events: `api_request` and `api_error` become events, "
    "`tool_decision`, `tool_result` and `user_prompt` (its length only) daily facts; "
    "other records are ignored.",
)
OTLP_LOGS_OK = _otlp_signal_ok("ExportLogsServiceResponse", "rejectedLogRecords", "log records")


def _bare_headers(request: Request) -> tuple[str, str]:
    """The bare, lower-case `Content-Type` and `Content-Encoding`."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type, request.headers.get("content-encoding", "").strip().lower()


async def _otlp_metrics(
    request: Request, context: ProjectContext, session: SessionDep, settings: Settings, clock: Clock
) -> Response:
    await limit_ingest(request, context)
    media_type, encoding = _bare_headers(request)
    reply = await service.ingest_otlp_metrics(
        session,
        context.project,
        await request.body(),
        media_type=media_type,
        encoding=encoding,
        limit=settings.http.max_ingest_body_bytes,
        max_depth=settings.http.max_json_depth,
        clock=clock,
    )
    return Response(reply.content, media_type=reply.media_type)


async def _otlp_logs(
    request: Request,
    context: ProjectContext,
    session: SessionDep,
    settings: Settings,
    clock: Clock,
    publisher: Publisher,
) -> Response:
    await limit_ingest(request, context)
    media_type, encoding = _bare_headers(request)
    reply = await service.ingest_otlp_logs(
        session,
        context.project,
        await request.body(),
        media_type=media_type,
        encoding=encoding,
        limit=settings.http.max_ingest_body_bytes,
        max_depth=settings.http.max_json_depth,
        clock=clock,
        publisher=publisher,
    )
    return Response(reply.content, media_type=reply.media_type)


@router.post(
    "/projects/{project_id}/ingest/otlp/v1/metrics",
    response_class=Response,
    summary="Ingest Claude Code and GenAI metrics (OTLP/HTTP, protobuf or JSON)",
    openapi_extra={"requestBody": OTLP_METRICS_BODY},
    responses={200: OTLP_METRICS_OK, **problem_responses(*OTLP_PROBLEMS, *SCOPED)},
)
async def ingest_otlp_metrics(
    request: Request,
    context: ProjectIngest,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    return await _otlp_metrics(request, context, session, settings, clock)


@router.post(
    "/ingest/otlp/v1/metrics",
    response_class=Response,
    summary="Ingest Claude Code and GenAI metrics with an API key (OTLP/HTTP exporter endpoint)",
    openapi_extra={"requestBody": OTLP_METRICS_BODY},
    responses={200: OTLP_METRICS_OK, **problem_responses(*OTLP_PROBLEMS)},
)
async def ingest_otlp_metrics_with_key(
    request: Request,
    context: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    return await _otlp_metrics(request, context, session, settings, clock)


@router.post(
    "/projects/{project_id}/ingest/otlp/v1/logs",
    response_class=Response,
    summary="Ingest Claude Code events (OTLP/HTTP logs, protobuf or JSON)",
    openapi_extra={"requestBody": OTLP_LOGS_BODY},
    responses={200: OTLP_LOGS_OK, **problem_responses(*OTLP_PROBLEMS, *SCOPED)},
)
async def ingest_otlp_logs(
    request: Request,
    context: ProjectIngest,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> Response:
    return await _otlp_logs(request, context, session, settings, clock, publisher)


@router.post(
    "/ingest/otlp/v1/logs",
    response_class=Response,
    summary="Ingest Claude Code events with an API key (OTLP/HTTP exporter endpoint)",
    openapi_extra={"requestBody": OTLP_LOGS_BODY},
    responses={200: OTLP_LOGS_OK, **problem_responses(*OTLP_PROBLEMS)},
)
async def ingest_otlp_logs_with_key(
    request: Request,
    context: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> Response:
    return await _otlp_logs(request, context, session, settings, clock, publisher)
