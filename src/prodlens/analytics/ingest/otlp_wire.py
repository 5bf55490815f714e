"""OTLP/HTTP export requests in (traces, metrics, logs; protobuf or JSON, maybe
compressed) and their responses out.

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
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from prodlens.analytics.ingest import fields, otlp, otlp_logs, otlp_metrics
from prodlens.analytics.ingest.events import Rejection
from prodlens.analytics.ingest.fields import FieldError
from prodlens.analytics.ingest.otlp_logs import LogRecord
from prodlens.analytics.ingest.otlp_metrics import MetricPoint
from prodlens.kit import json_limits
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
    status, code, title = 400, "ingest.invalid_otlp", "Not an OTLP export request"


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


# --- metrics ----------------------------------------------------------------------

_CUMULATIVE = (
    AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
    "AGGREGATION_TEMPORALITY_CUMULATIVE",
)
_DELTA = (AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA, "AGGREGATION_TEMPORALITY_DELTA")
_ADDITIVE = ("sum", "histogram", "exponentialHistogram")  # gauges and summaries are not


def _temporality(name: str, value: Any) -> bool:
    """True for cumulative, False for delta; anything else cannot be added up."""
    if value in _CUMULATIVE:
        return True
    if value in _DELTA:
        return False
    raise FieldError(f"{name}: aggregationTemporality must be DELTA or CUMULATIVE")


def _point(
    name: str,
    cumulative: bool,
    raw: Mapping[str, Any],
    resource: dict[str, Any],
    attributes: dict[str, Any],
) -> MetricPoint | Rejection:
    """A point from its raw fields (`value` for a sum; `sum` and `count` for a
    histogram; the times), as either encoding carries them."""
    try:
        if "value" in raw:
            value = fields.number(raw["value"], "value")
            if value is None:
                raise FieldError("the point has no value")
            count = None
        else:
            total = fields.number(raw.get("sum"), "sum")
            if total is None:
                raise FieldError("the histogram point has no sum")
            value, count = total, float(fields.count(raw.get("count"), "count") or 0)
        return MetricPoint(
            name=name,
            cumulative=cumulative,
            start=fields.count(raw.get("start"), "startTimeUnixNano") or 0,
            time=fields.count(raw.get("time"), "timeUnixNano") or 0,
            value=value,
            count=count,
            attributes=attributes,
            resource=resource,
        )
    except FieldError as exc:
        return Rejection(f"{name}: {exc}")


def _proto_raw(point: Any, histogram: bool) -> dict[str, Any]:
    raw: dict[str, Any] = {"start": point.start_time_unix_nano, "time": point.time_unix_nano}
    if histogram:
        raw["sum"] = point.sum if point.HasField("sum") else None
        raw["count"] = point.count
    else:
        kind = point.WhichOneof("value")
        raw["value"] = getattr(point, kind) if kind else None
    return raw


def _json_raw(point: Any, histogram: bool) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "start": _get(point, "startTimeUnixNano"),
        "time": _get(point, "timeUnixNano"),
    }
    if histogram:
        raw["sum"], raw["count"] = _get(point, "sum"), _get(point, "count")
    else:
        double = _get(point, "asDouble")
        raw["value"] = double if double is not None else _get(point, "asInt")
    return raw


def _proto_metric_points(metric: Metric, resource: dict[str, Any]) -> list[MetricPoint | Rejection]:
    kind = metric.WhichOneof("data")
    if kind not in ("sum", "histogram", "exponential_histogram"):
        return []
    data = getattr(metric, kind)
    try:
        cumulative = _temporality(metric.name, data.aggregation_temporality)
    except FieldError as exc:
        return [Rejection(str(exc)) for _ in data.data_points]
    return [
        _point(
            metric.name,
            cumulative,
            _proto_raw(point, histogram=kind != "sum"),
            resource,
            _proto_attributes(point.attributes),
        )
        for point in data.data_points
    ]


def points_from_protobuf(body: bytes) -> list[MetricPoint | Rejection]:
    request = ExportMetricsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise InvalidOtlp("The body is not a protobuf ExportMetricsServiceRequest.") from None
    points: list[MetricPoint | Rejection] = []
    for resource_metrics in request.resource_metrics:
        resource = _proto_attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if otlp_metrics.is_known(metric.name):
                    points += _proto_metric_points(metric, resource)
    return points


def points_from_json(document: Any) -> list[MetricPoint | Rejection]:
    if not isinstance(document, Mapping):
        raise InvalidOtlp('Send an object with "resourceMetrics".')
    points: list[MetricPoint | Rejection] = []
    for resource_metrics in _list(document, "resourceMetrics"):
        resource = _json_attributes(_list(_get(resource_metrics, "resource"), "attributes"))
        for scope_metrics in _list(resource_metrics, "scopeMetrics"):
            for metric in _list(scope_metrics, "metrics"):
                name = _get(metric, "name")
                if not isinstance(name, str) or not otlp_metrics.is_known(name):
                    continue
                kind = next((k for k in _ADDITIVE if _get(metric, k) is not None), None)
                if kind is None:
                    continue
                data = _get(metric, kind)
                try:
                    cumulative = _temporality(name, _get(data, "aggregationTemporality"))
                except FieldError as exc:
                    points += [Rejection(str(exc)) for _ in _list(data, "dataPoints")]
                    continue
                for point in _list(data, "dataPoints"):
                    points.append(
                        _point(
                            name,
                            cumulative,
                            _json_raw(point, histogram=kind != "sum"),
                            resource,
                            _json_attributes(_list(point, "attributes")),
                        )
                    )
    return points


@dataclass(frozen=True)
class MetricsExport:
    protobuf: bool
    points: list[MetricPoint | Rejection]


def decode_metrics(
    body: bytes, media_type: str, encoding: str, limit: int, max_depth: int
) -> MetricsExport:
    """A metrics export request's points of the metrics ProdLens reads (others are
    skipped), or rejections for the points it cannot read."""
    raw, document = _read(body, media_type, encoding, limit, max_depth)
    if document is None:
        return MetricsExport(protobuf=True, points=points_from_protobuf(raw))
    return MetricsExport(protobuf=False, points=points_from_json(document))


# --- logs -------------------------------------------------------------------------


def _event_name(event_name: Any, body: Any) -> str:
    """The record's event name, else its body when that is a short `claude_code.*`
    name (a body that is anything else is content: never read)."""
    if isinstance(event_name, str) and event_name:
        return event_name[: otlp_logs.BODY_NAME_LIMIT]
    if (
        isinstance(body, str)
        and body.startswith("claude_code.")
        and len(body) <= otlp_logs.BODY_NAME_LIMIT
    ):
        return body
    return ""


def records_from_protobuf(body: bytes) -> list[LogRecord | Rejection]:
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise InvalidOtlp("The body is not a protobuf ExportLogsServiceRequest.") from None
    records: list[LogRecord | Rejection] = []
    for resource_logs in request.resource_logs:
        resource = _proto_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                text_body = (
                    record.body.string_value
                    if record.body.WhichOneof("value") == "string_value"
                    else None
                )
                records.append(
                    LogRecord(
                        event_name=_event_name(record.event_name, text_body),
                        time=record.time_unix_nano or record.observed_time_unix_nano,
                        attributes=_proto_attributes(record.attributes),
                        resource=resource,
                        scope=scope_logs.scope.name,
                    )
                )
    return records


def records_from_json(document: Any) -> list[LogRecord | Rejection]:
    if not isinstance(document, Mapping):
        raise InvalidOtlp('Send an object with "resourceLogs".')
    records: list[LogRecord | Rejection] = []
    for resource_logs in _list(document, "resourceLogs"):
        resource = _json_attributes(_list(_get(resource_logs, "resource"), "attributes"))
        for scope_logs in _list(resource_logs, "scopeLogs"):
            scope = _get(_get(scope_logs, "scope"), "name")
            for record in _list(scope_logs, "logRecords"):
                if not isinstance(record, Mapping):
                    records.append(Rejection("a log record must be an object"))
                    continue
                try:
                    time = fields.count(_get(record, "timeUnixNano"), "timeUnixNano") or (
                        fields.count(_get(record, "observedTimeUnixNano"), "observedTimeUnixNano")
                        or 0
                    )
                except FieldError as exc:
                    records.append(Rejection(str(exc)))
                    continue
                records.append(
                    LogRecord(
                        event_name=_event_name(
                            _get(record, "eventName"), _get(_get(record, "body"), "stringValue")
                        ),
                        time=time,
                        attributes=_json_attributes(_list(record, "attributes")),
                        resource=resource,
                        scope=scope if isinstance(scope, str) else "",
                    )
                )
    return records


@dataclass(frozen=True)
class LogsExport:
    protobuf: bool
    records: list[LogRecord | Rejection]


def decode_logs(
    body: bytes, media_type: str, encoding: str, limit: int, max_depth: int
) -> LogsExport:
    raw, document = _read(body, media_type, encoding, limit, max_depth)
    if document is None:
        return LogsExport(protobuf=True, records=records_from_protobuf(raw))
    return LogsExport(protobuf=False, records=records_from_json(document))


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


def _read(
    body: bytes, media_type: str, encoding: str, limit: int, max_depth: int
) -> tuple[bytes, Any]:
    """The decompressed body and, for JSON, its document (None for protobuf); JSON
    nested deeper than `max_depth` is refused before it is parsed."""
    body = decompress(body, encoding, limit)
    if _is_protobuf(media_type, body):
        return body, None
    try:
        return body, json_limits.loads(body, max_depth=max_depth)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedJson("The body is not an OTLP/JSON document.") from None


def decode_request(
    body: bytes, media_type: str, encoding: str, limit: int, max_depth: int
) -> ExportRequest:
    """A trace export request from its body, bare lower-case `Content-Type` and
    `Content-Encoding`; `limit` caps the decompressed size, `max_depth` JSON's nesting."""
    raw, document = _read(body, media_type, encoding, limit, max_depth)
    if document is None:
        return ExportRequest(protobuf=True, items=items_from_protobuf(raw))
    return ExportRequest(protobuf=False, items=items_from_json(document))


# --- response ---------------------------------------------------------------------


def _message(reasons: list[str]) -> str:
    more = f" (and {len(reasons) - _MAX_REASONS} more)" if len(reasons) > _MAX_REASONS else ""
    # Reasons may quote the input; protobuf and JSON strings must encode as UTF-8.
    return json_limits.sendable("; ".join(reasons[:_MAX_REASONS]) + more)


def _encoded(response: Any, *, protobuf: bool) -> bytes:
    if protobuf:
        return bytes(response.SerializeToString())
    return json_format.MessageToJson(response, indent=None).encode()


def export_response(rejected: list[tuple[str | None, str]], *, protobuf: bool) -> bytes:
    """ExportTraceServiceResponse; `partial_success` only when spans were rejected,
    as OTLP asks, with the first reasons as its message."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = len(rejected)
        response.partial_success.error_message = _message(
            [f"span {event_id or '?'}: {reason}" for event_id, reason in rejected]
        )
    return _encoded(response, protobuf=protobuf)


def metrics_response(rejected: list[str], *, protobuf: bool) -> bytes:
    """ExportMetricsServiceResponse; `partial_success` counts the rejected points."""
    response = ExportMetricsServiceResponse()
    if rejected:
        response.partial_success.rejected_data_points = len(rejected)
        response.partial_success.error_message = _message(rejected)
    return _encoded(response, protobuf=protobuf)


def logs_response(rejected: list[str], *, protobuf: bool) -> bytes:
    """ExportLogsServiceResponse; `partial_success` counts the rejected records."""
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.rejected_log_records = len(rejected)
        response.partial_success.error_message = _message(rejected)
    return _encoded(response, protobuf=protobuf)
