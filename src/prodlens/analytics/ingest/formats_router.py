"""Ingest routes for other tools' formats: LiteLLM's logging payload and OTLP/HTTP traces.

Each has a project-scoped route (members with `maintainer`, or an `ingest` key
of the project) and a key-scoped one (the key's own project), so a LiteLLM
proxy or an OpenTelemetry exporter needs only an endpoint and an `X-API-Key`.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from prodlens.analytics.ingest import litellm, otlp_wire, service
from prodlens.analytics.ingest.events import MAX_BATCH
from prodlens.analytics.ingest.router import ingest_json, limit_ingest
from prodlens.analytics.ingest.service import BatchTooLarge, IngestResponse, InvalidBatch
from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.errors import (
    BadRequest,
    MalformedJson,
    PayloadTooLarge,
    UnsupportedMediaType,
    problem_responses,
)
from prodlens.projects.deps import SCOPED, IngestKey, ProjectContext, ProjectIngest
from prodlens.ratelimit.limiter import RateLimited

router = APIRouter(
    prefix="/api/v1",
    tags=["ingest"],
    route_class=InstrumentedRoute,
    responses=problem_responses(
        NotAuthenticated, MalformedJson, InvalidBatch, BatchTooLarge, PayloadTooLarge, RateLimited
    ),
)
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
_PARSE_INLINE_BYTES = 64 * 1024


async def _litellm(
    request: Request, context: ProjectContext, session: SessionDep
) -> IngestResponse:
    # LiteLLM may send no content type (or a wrong one): the body decides.
    return await ingest_json(request, context, session, source="litellm", adapt=litellm.to_event)


@router.post(
    "/projects/{project_id}/ingest/litellm",
    response_model=IngestResponse,
    summary="Ingest LiteLLM logging payloads (its generic API logger's batches)",
    openapi_extra={"requestBody": LITELLM_BODY},
    responses=problem_responses(*SCOPED),
)
async def ingest_litellm(
    request: Request, context: ProjectIngest, session: SessionDep
) -> IngestResponse:
    return await _litellm(request, context, session)


@router.post(
    "/ingest/litellm",
    response_model=IngestResponse,
    summary="Ingest LiteLLM logging payloads with an API key (the key's project)",
    openapi_extra={"requestBody": LITELLM_BODY},
)
async def ingest_litellm_with_key(
    request: Request, context: IngestKey, session: SessionDep
) -> IngestResponse:
    return await _litellm(request, context, session)


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """gzip/deflate bodies (an OTel Collector compresses by default), capped at the
    ingest body limit so a small compressed body cannot expand without bound."""
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported.")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BadRequest(f"The body is not valid {encoding} data.") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The decompressed body exceeds {limit} bytes.")
    return data


def _is_protobuf(media_type: str, body: bytes) -> bool:
    if media_type in (otlp_wire.PROTOBUF, "application/protobuf"):
        return True
    if media_type == otlp_wire.JSON or media_type.endswith("+json"):
        return False
    if not media_type:  # OTLP requires a content type; be lenient and look
        return not body.lstrip().startswith(b"{")
    raise UnsupportedMediaType("Send application/x-protobuf or application/json (OTLP/HTTP).")


def _decode_otlp(
    body: bytes, media_type: str, encoding: str, limit: int
) -> tuple[bool, list[otlp_wire.Item]]:
    body = _decompress(body, encoding, limit)
    protobuf = _is_protobuf(media_type, body)
    if protobuf:
        return True, otlp_wire.items_from_protobuf(body)
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedJson("The body is not an OTLP/JSON document.") from None
    return False, otlp_wire.items_from_json(document)


async def _otlp(request: Request, context: ProjectContext, session: SessionDep) -> Response:
    await limit_ingest(request, context)
    body = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    limit = request.app.state.settings.http.max_ingest_body_bytes
    if len(body) > _PARSE_INLINE_BYTES or encoding:
        protobuf, items = await anyio.to_thread.run_sync(
            _decode_otlp, body, media_type, encoding, limit
        )
    else:
        protobuf, items = _decode_otlp(body, media_type, encoding, limit)
    rejected: list[tuple[str | None, str]] = []
    # An exporter cannot be asked to split its batch: store it in slices of the
    # batch limit, all in this request's one transaction.
    for start in range(0, len(items), MAX_BATCH):
        result = await service.ingest(
            session,
            context.project,
            items[start : start + MAX_BATCH],
            source="otlp",
            clock=request.app.state.clock,
        )
        rejected += [(r.event_id, r.reason or "") for r in result.results if r.status == "rejected"]
    content = otlp_wire.export_response(rejected, protobuf=protobuf)
    return Response(content, media_type=otlp_wire.PROTOBUF if protobuf else otlp_wire.JSON)


@router.post(
    "/projects/{project_id}/ingest/otlp/v1/traces",
    response_class=Response,
    summary="Ingest OpenTelemetry GenAI spans (OTLP/HTTP, protobuf or JSON)",
    openapi_extra={"requestBody": OTLP_BODY},
    responses={200: OTLP_OK, **problem_responses(*OTLP_PROBLEMS, *SCOPED)},
)
async def ingest_otlp_traces(
    request: Request, context: ProjectIngest, session: SessionDep
) -> Response:
    return await _otlp(request, context, session)


@router.post(
    "/ingest/otlp/v1/traces",
    response_class=Response,
    summary="Ingest OpenTelemetry GenAI spans with an API key (OTLP/HTTP exporter endpoint)",
    openapi_extra={"requestBody": OTLP_BODY},
    responses={200: OTLP_OK, **problem_responses(*OTLP_PROBLEMS)},
)
async def ingest_otlp_traces_with_key(
    request: Request, context: IngestKey, session: SessionDep
) -> Response:
    return await _otlp(request, context, session)
