"""OTLP/HTTP trace export requests in (protobuf or JSON, maybe compressed) and their
responses out.

The protobuf form is parsed with `opentelemetry-proto`. The JSON form is walked
by hand: OTLP's JSON differs from protobuf's canonical JSON mapping (ids are
hex, not base64), and walking it lets one malformed span be rejected alone.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from prodlens.analytics.ingest import otlp
from prodlens.analytics.ingest.events import Rejection
from prodlens.kit.errors import (
    BadRequest,
    MalformedJson,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ERROR_CODES = (Status.STATUS_CODE_ERROR, "STATUS_CODE_ERROR")
_MAX_REASONS = 5


class InvalidOtlp(ProblemError):
    status, code, title = 400, "ingest.invalid_otlp", "Not an OTLP trace export request"


Item = dict[str, Any] | Rejection


# --- protobuf ---------------------------------------------------------------------


def _proto_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_proto_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _proto_attributes(value.kvlist_value.values)
    if kind is None or kind == "bytes_value":
        return None
    return getattr(value, kind)


def _proto_attributes(pairs: Any) -> dict[str, Any]:
    entries: list[KeyValue] = list(pairs)
    return {pair.key: _proto_value(pair.value) for pair in entries}


def items_from_protobuf(body: bytes) -> list[Item]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise InvalidOtlp("The body is not a protobuf ExportTraceServiceRequest.") from None
    items: list[Item] = []
    for resource_spans in request.resource_spans:
        resource = _proto_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                event = otlp.to_event(
                    otlp.Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        name=span.name,
                        start=span.start_time_unix_nano,
                        end=span.end_time_unix_nano,
                        attributes=_proto_attributes(span.attributes),
                        resource=resource,
                        scope=scope_spans.scope.name,
                        error=span.status.code == Status.STATUS_CODE_ERROR,
                    )
                )
                if event is not None:
                    items.append(event)
    return items


# --- JSON -------------------------------------------------------------------------


def _get(obj: Any, camel: str) -> Any:
    """A field by its OTLP/JSON (camelCase) name, or the snake_case name some send."""
    if not isinstance(obj, Mapping):
        return None
    if camel in obj:
        return obj[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return obj.get(snake)


def _list(obj: Any, camel: str) -> list[Any]:
    value = _get(obj, camel)
    return value if isinstance(value, list) else []


def _json_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return None
    for name in ("stringValue", "boolValue", "doubleValue"):
        found = _get(value, name)
        if found is not None:
            return found
    integer = _get(value, "intValue")
    if integer is not None:
        return integer  # may be a string (int64 in JSON); the mapping converts it
    if _get(value, "arrayValue") is not None:
        return [_json_value(item) for item in _list(_get(value, "arrayValue"), "values")]
    if _get(value, "kvlistValue") is not None:
        return _json_attributes(_list(_get(value, "kvlistValue"), "values"))
    return None


def _json_attributes(pairs: list[Any]) -> dict[str, Any]:
    return {
        pair["key"]: _json_value(pair.get("value"))
        for pair in pairs
        if isinstance(pair, Mapping) and isinstance(pair.get("key"), str)
    }


def _json_id(value: Any) -> str:
    """Hex, as OTLP/JSON says; base64 (protobuf's JSON mapping) is accepted too."""
    if not isinstance(value, str):
        return ""
    try:
        bytes.fromhex(value)
        return value.lower()
    except ValueError:
        pass
    try:
        return base64.b64decode(value, validate=True).hex()
    except ValueError:
        return ""


def _json_spans(document: Mapping[str, Any]) -> Iterator[otlp.Span]:
    for resource_spans in _list(document, "resourceSpans"):
        resource = _json_attributes(_list(_get(resource_spans, "resource"), "attributes"))
        for scope_spans in _list(resource_spans, "scopeSpans"):
            scope = _get(_get(scope_spans, "scope"), "name")
            for span in _list(scope_spans, "spans"):
                if not isinstance(span, Mapping):
                    continue  # nothing to tell whether it was a model call
                yield otlp.Span(
                    trace_id=_json_id(_get(span, "traceId")),
                    span_id=_json_id(_get(span, "spanId")),
                    name=str(_get(span, "name") or ""),
                    start=_get(span, "startTimeUnixNano"),
                    end=_get(span, "endTimeUnixNano"),
                    attributes=_json_attributes(_list(span, "attributes")),
                    resource=resource,
                    scope=scope if isinstance(scope, str) else "",
                    error=_get(_get(span, "status"), "code") in _ERROR_CODES,
                )


def items_from_json(document: Any) -> list[Item]:
    if not isinstance(document, Mapping):
        raise InvalidOtlp('Send an object with "resourceSpans".')
    return [event for span in _json_spans(document) if (event := otlp.to_event(span)) is not None]


def is_otlp_json(document: Any) -> bool:
    return isinstance(document, Mapping) and _get(document, "resourceSpans") is not None


# --- request body -----------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    protobuf: bool  # the response is sent in the request's encoding
    items: list[Item]


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
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
    if media_type in (PROTOBUF, "application/protobuf"):
        return True
    if media_type == JSON or media_type.endswith("+json"):
        return False
    if not media_type:  # OTLP requires a content type; be lenient and look
        return not body.lstrip().startswith(b"{")
    raise UnsupportedMediaType("Send application/x-protobuf or application/json (OTLP/HTTP).")


def decode_request(body: bytes, media_type: str, encoding: str, limit: int) -> ExportRequest:
    """An export request from its body, bare lower-case `Content-Type` and
    `Content-Encoding`; `limit` caps the decompressed size."""
    body = decompress(body, encoding, limit)
    if _is_protobuf(media_type, body):
        return ExportRequest(protobuf=True, items=items_from_protobuf(body))
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedJson("The body is not an OTLP/JSON document.") from None
    return ExportRequest(protobuf=False, items=items_from_json(document))


# --- response ---------------------------------------------------------------------


def export_response(rejected: list[tuple[str | None, str]], *, protobuf: bool) -> bytes:
    """ExportTraceServiceResponse; `partial_success` only when spans were rejected,
    as OTLP asks, with the first reasons as its message."""
    response = ExportTraceServiceResponse()
    if rejected:
        reasons = "; ".join(
            f"span {event_id or '?'}: {reason}" for event_id, reason in rejected[:_MAX_REASONS]
        )
        more = f" (and {len(rejected) - _MAX_REASONS} more)" if len(rejected) > _MAX_REASONS else ""
        response.partial_success.rejected_spans = len(rejected)
        response.partial_success.error_message = reasons + more
    if protobuf:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()
