"""OpenTelemetry GenAI spans → native events.

Attribute names follow the GenAI semantic conventions (`gen_ai.*`), with the
older names some instrumentations still emit (`gen_ai.system`,
`gen_ai.usage.prompt_tokens`). Only model calls become events: other spans, and
GenAI spans that wrap calls (agents, tools), are skipped, because counting an
agent span's tokens would count its model calls twice. Message content
attributes (`gen_ai.input.messages`, …) are never read; the few attributes kept
are named in `_KEPT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prodlens.analytics.ingest import fields
from prodlens.analytics.ingest.events import Rejection
from prodlens.analytics.ingest.fields import FieldError, first_text, text

_NANOS = 1_000_000_000
# Operations that wrap model calls rather than being one.
_NOT_MODEL_CALLS = frozenset({"execute_tool", "invoke_agent", "create_agent", "invoke_workflow"})
_MODEL_EVIDENCE = (
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
)
# Span (or resource) attributes copied into the event's `attributes`: identifiers only.
_KEPT = ("gen_ai.response.id", "gen_ai.agent.name", "server.address", "service.name")


@dataclass(frozen=True)
class Span:
    """The parts of an OTLP span that matter here, decoded from JSON or protobuf."""

    trace_id: str
    span_id: str
    name: str
    start: Any  # unix nanoseconds, as sent (JSON may carry a string)
    end: Any
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope: str = ""
    error: bool = False  # the span's status is ERROR


def is_model_call(attributes: Mapping[str, Any]) -> bool:
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation in _NOT_MODEL_CALLS:
        return False
    return any(key in attributes for key in _MODEL_EVIDENCE)


def _time(value: Any, name: str) -> datetime | None:
    nanos = fields.count(value, name)
    if not nanos:  # 0 is OTLP's "unset"
        return None
    seconds, rest = divmod(nanos, _NANOS)
    return fields.from_epoch(seconds, name) + timedelta(microseconds=rest // 1000)


def _tokens(attributes: Mapping[str, Any]) -> dict[str, Any]:
    def first(*names: str) -> int:
        return fields.first_count(attributes, *names) or 0

    cache_read = first(
        "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"
    )
    cache_creation = first(
        "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"
    )
    given = first("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    return {
        # The conventions count cached tokens inside input_tokens; ProdLens apart.
        "input_tokens": max(given - cache_read - cache_creation, 0),
        "output_tokens": first("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "cache_read_tokens": cache_read,
        "cache_creation_tokens": cache_creation,
    }


def _finish_reason(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return next((text(item, 64) for item in value if text(item, 64)), None)
    return text(value, 64)


def _ttft_ms(attributes: Mapping[str, Any]) -> float | None:
    seconds = fields.number(
        attributes.get("gen_ai.response.time_to_first_chunk"), "time_to_first_chunk"
    )
    return seconds * 1000 if seconds is not None and seconds >= 0 else None


def _kept(span: Span) -> dict[str, Any]:
    kept: dict[str, Any] = {"otel_trace_id": span.trace_id or None, "otel_span_name": span.name}
    if span.scope:
        kept["otel_scope"] = span.scope
    for key in _KEPT:
        value = text(span.attributes.get(key), 200) or text(span.resource.get(key), 200)
        if value is not None:
            kept[key] = value
    return {key: value for key, value in kept.items() if value}


def to_event(span: Span) -> dict[str, Any] | Rejection | None:
    """A native-shaped event for a model-call span, a rejection if it cannot be one,
    or None for spans that are not model calls (ignored, not rejected)."""
    attrs = span.attributes
    if not is_model_call(attrs):
        return None

    def either(*names: str) -> list[Any]:  # span attributes first, then the resource's
        return [attrs.get(name) for name in names] + [span.resource.get(name) for name in names]

    # An all-zero span id is OTLP's "invalid"; the response id is the next best key.
    valid_span_id = span.span_id if span.span_id.strip("0") else None
    event_id = first_text(128, valid_span_id, attrs.get("gen_ai.response.id"))
    try:
        started_at = _time(span.start, "startTimeUnixNano")
        if started_at is None:
            raise FieldError("startTimeUnixNano: required")
        error_type = text(attrs.get("error.type"), 128)
        http_status = fields.count(attrs.get("http.response.status_code"), "status_code")
        event: dict[str, Any] = {
            "event_id": event_id,
            "session_id": first_text(
                128, *either("prodlens.session_id", "gen_ai.conversation.id", "session.id")
            ),
            "developer_id": first_text(
                128, *either("prodlens.developer_id", "user.id", "enduser.id")
            ),
            "started_at": started_at,
            "ended_at": _time(span.end, "endTimeUnixNano"),
            "ttft_ms": _ttft_ms(attrs),
            "provider": first_text(
                64, attrs.get("gen_ai.provider.name"), attrs.get("gen_ai.system")
            ),
            "operation": text(attrs.get("gen_ai.operation.name"), 64),
            "request_model": text(attrs.get("gen_ai.request.model"), 128),
            "response_model": text(attrs.get("gen_ai.response.model"), 128),
            **_tokens(attrs),
            "status": "error" if span.error or error_type else "ok",
            "http_status": http_status if http_status and 100 <= http_status <= 599 else None,
            "error_type": error_type,
            "finish_reason": _finish_reason(attrs.get("gen_ai.response.finish_reasons")),
            "accepted": fields.flag(attrs.get("prodlens.accepted")),
            "lines_suggested": fields.count(
                attrs.get("prodlens.lines_suggested"), "lines_suggested"
            ),
            "lines_accepted": fields.count(attrs.get("prodlens.lines_accepted"), "lines_accepted"),
            "repo": first_text(200, *either("prodlens.repo", "vcs.repository.name")),
            "tags": fields.tags(attrs.get("prodlens.tags")),
            "attributes": _kept(span),
        }
    except FieldError as exc:
        return Rejection(str(exc), event_id)
    return {key: value for key, value in event.items() if value is not None}
