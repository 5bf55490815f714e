"""OTLP/HTTP traces (protobuf and JSON): GenAI model-call spans become events."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from prodlens.analytics.ingest import otlp, otlp_wire
from prodlens.analytics.ingest.events import Rejection
from tests.analytics.helpers import AnalyticsProject, analytics_project
from tests.harness import Harness

URL = "/api/v1/ingest/otlp/v1/traces"
PROTOBUF = "application/x-protobuf"


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


def nanos(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def proto_span(
    span_id: str, start: datetime, attributes: dict[str, Any], *, error: bool = False
) -> Span:
    return Span(
        trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
        span_id=bytes.fromhex(span_id),
        name=f"chat {attributes.get('gen_ai.request.model', '')}".strip(),
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=nanos(start),
        end_time_unix_nano=nanos(start + timedelta(milliseconds=1250)),
        attributes=[KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()],
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


def export(*spans: Span, resource: dict[str, Any] | None = None) -> bytes:
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=[
                        KeyValue(key=k, value=any_value(v)) for k, v in (resource or {}).items()
                    ]
                ),
                scope_spans=[
                    ScopeSpans(scope=InstrumentationScope(name="copilot-agent"), spans=list(spans))
                ],
            )
        ]
    )
    return request.SerializeToString()


CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.id": "chatcmpl-abc",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 80,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.conversation.id": "conv-7",
    "gen_ai.input.messages": '[{"role":"user","parts":[{"content":"TOP-SECRET prompt"}]}]',
    "gen_ai.output.messages": '[{"role":"assistant","parts":[{"content":"TOP-SECRET"}]}]',
}


async def test_protobuf_export_stores_model_calls_and_ignores_other_spans(
    harness: Harness, project: AnalyticsProject
) -> None:
    at = harness.clock.now() - timedelta(minutes=30)
    body = export(
        proto_span("00f067aa0ba902b7", at, CHAT),
        proto_span(
            "00f067aa0ba902b8",
            at,
            {
                "gen_ai.system": "anthropic",  # older attribute names
                "gen_ai.request.model": "claude-sonnet-4",
                "gen_ai.usage.prompt_tokens": 900,
                "gen_ai.usage.completion_tokens": 60,
                "error.type": "RateLimitError",
                "http.response.status_code": 429,
                "user.id": "grace",
            },
            error=True,
        ),
        proto_span("00f067aa0ba902b9", at, {"http.request.method": "GET", "url.path": "/"}),
        proto_span(
            "00f067aa0ba902ba",
            at,
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 2100},
        ),
        resource={"service.name": "copilot", "enduser.id": "ada"},
    )
    response = await harness.client.post(
        URL, content=body, headers={"X-API-Key": project.ingest_key, "content-type": PROTOBUF}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == PROTOBUF
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    rows = await harness.sql(
        "SELECT event_id, provider, operation, request_model, response_model, input_tokens, "
        "output_tokens, cache_read_tokens, total_tokens, status, error_type, http_status, "
        "finish_reason, session_id, developer_id, latency_ms, cost_source, source "
        "FROM events ORDER BY event_id"
    )
    assert [tuple(row[:15]) for row in rows] == [
        (
            "00f067aa0ba902b7",
            "openai",
            "chat",
            "gpt-4o",
            "gpt-4o-2024-08-06",
            200,  # input tokens include the 1,000 cached ones
            80,
            1000,
            1280,
            "ok",
            None,
            None,
            "stop",
            "conv-7",
            "ada",  # from the resource
        ),
        (
            "00f067aa0ba902b8",
            "anthropic",
            None,
            "claude-sonnet-4",
            "claude-sonnet-4",
            900,
            60,
            0,
            960,
            "error",
            "RateLimitError",
            429,
            None,
            None,
            "grace",  # the span's own attribute wins over the resource
        ),
    ]
    assert rows[0][15] == pytest.approx(1250)
    assert (rows[0][16], rows[0][17]) == ("estimated", "otlp")
    stored = str(await harness.sql("SELECT * FROM events"))
    assert "TOP-SECRET" not in stored
    [(attributes,)] = await harness.sql(
        "SELECT attributes FROM events WHERE event_id = '00f067aa0ba902b7'"
    )
    attributes = json.loads(attributes) if isinstance(attributes, str) else attributes
    assert attributes["gen_ai.response.id"] == "chatcmpl-abc"
    assert attributes["service.name"] == "copilot"


def json_span(span_id: str, start: datetime, attributes: dict[str, Any]) -> dict[str, Any]:
    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, int):
            return {"intValue": str(v)}  # int64 travels as a string in OTLP/JSON
        if isinstance(v, list):
            return {"arrayValue": {"values": [value(x) for x in v]}}
        return {"stringValue": v}

    return {
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": span_id,
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(nanos(start)),
        "endTimeUnixNano": str(nanos(start + timedelta(milliseconds=300))),
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
        "status": {},
    }


def json_export(*spans: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "session.id", "value": {"stringValue": "s"}}]},
                "scopeSpans": [{"scope": {"name": "x"}, "spans": list(spans)}],
            }
        ]
    }


async def test_json_export_answers_partial_success_for_rejected_spans(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now()
    ok = json_span("eee19b7ec3c1b174", now - timedelta(minutes=1), CHAT)
    future = json_span("eee19b7ec3c1b175", now + timedelta(days=1), CHAT)
    no_start = json_span("eee19b7ec3c1b176", now, CHAT)
    del no_start["startTimeUnixNano"]
    bad_tokens = json_span("eee19b7ec3c1b177", now, {**CHAT, "gen_ai.usage.output_tokens": "lots"})
    plain = json_span("eee19b7ec3c1b178", now, {"db.system": "postgresql"})
    plain["startTimeUnixNano"] = "garbage"  # not a model call: never judged
    response = await harness.client.post(
        f"{project.base}/ingest/otlp/v1/traces",
        json=json_export(ok, future, no_start, bad_tokens, plain),
        headers={"X-API-Key": project.ingest_key},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 3
    assert "eee19b7ec3c1b175: started_at is in the future" in partial["errorMessage"]
    assert "startTimeUnixNano: required" in partial["errorMessage"]
    assert "output_tokens" in partial["errorMessage"]
    assert await harness.sql("SELECT event_id, session_id FROM events") == [
        ("eee19b7ec3c1b174", "conv-7")
    ]


async def test_re_export_is_idempotent_and_gzip_is_accepted(
    harness: Harness, project: AnalyticsProject
) -> None:
    body = export(proto_span("1111111111111111", harness.clock.now(), CHAT))
    headers = {"X-API-Key": project.ingest_key, "content-type": PROTOBUF}
    first = await harness.client.post(URL, content=body, headers=headers)
    again = await harness.client.post(
        URL, content=gzip.compress(body), headers={**headers, "content-encoding": "gzip"}
    )
    for response in (first, again):
        assert response.status_code == 200
        assert not ExportTraceServiceResponse.FromString(response.content).HasField(
            "partial_success"
        )
    assert await harness.sql("SELECT count(*) FROM events") == [(1,)]
    assert await harness.sql("SELECT sum(events) FROM rollups_daily") == [(1,)]


async def test_bad_bodies_are_refused(harness: Harness, project: AnalyticsProject) -> None:
    key = {"X-API-Key": project.ingest_key}
    garbage = await harness.client.post(
        URL, content=b"\xff\xff\xff\xff", headers={**key, "content-type": PROTOBUF}
    )
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "ingest.invalid_otlp"
    broken_json = await harness.client.post(
        URL, content=b'{"resourceSpans": [', headers={**key, "content-type": "application/json"}
    )
    assert broken_json.status_code == 400
    assert broken_json.json()["code"] == "request.malformed_json"
    not_otlp = await harness.client.post(URL, json=[1, 2], headers=key)
    assert not_otlp.status_code == 400
    bad_gzip = await harness.client.post(
        URL,
        content=b"not gzip",
        headers={**key, "content-type": PROTOBUF, "content-encoding": "gzip"},
    )
    assert bad_gzip.status_code == 400
    wrong_type = await harness.client.post(
        URL, content=b"x", headers={**key, "content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    huge = await harness.client.post(
        URL, content=b"\x00" * (11 * 1024 * 1024), headers={**key, "content-type": PROTOBUF}
    )
    assert huge.status_code == 413
    bomb = gzip.compress(b" " * (11 * 1024 * 1024))
    inflated = await harness.client.post(
        URL,
        content=bomb,
        headers={**key, "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert inflated.status_code == 413
    read_key = await harness.client.post(
        URL,
        content=export(),
        headers={"X-API-Key": project.read_key, "content-type": PROTOBUF},
    )
    assert read_key.status_code == 403
    assert await harness.sql("SELECT count(*) FROM events") == [(0,)]


async def test_more_spans_than_one_batch_are_all_stored(
    harness: Harness, project: AnalyticsProject
) -> None:
    at = harness.clock.now() - timedelta(hours=1)
    spans = [proto_span(f"{i + 1:016x}", at, CHAT) for i in range(1200)]
    response = await harness.client.post(
        URL,
        content=export(*spans),
        headers={"X-API-Key": project.ingest_key, "content-type": PROTOBUF},
    )
    assert response.status_code == 200
    assert await harness.sql("SELECT count(*) FROM events") == [(1200,)]


def test_only_model_calls_are_events() -> None:
    def span(attributes: dict[str, Any]) -> otlp.Span:
        return otlp.Span("t", "00000000000000aa", "s", 1_700_000_000_000_000_000, 0, attributes)

    assert otlp.to_event(span({"http.route": "/"})) is None
    assert otlp.to_event(span({"gen_ai.agent.name": "helper"})) is None
    assert otlp.to_event(span({"gen_ai.operation.name": "execute_tool"})) is None
    embedding = otlp.to_event(
        span({"gen_ai.operation.name": "embeddings", "gen_ai.usage.input_tokens": 9})
    )
    assert isinstance(embedding, dict)
    assert (embedding["operation"], embedding["input_tokens"]) == ("embeddings", 9)


def test_ids_fall_back_to_the_response_id_and_creation_tokens_are_apart() -> None:
    event = otlp.to_event(
        otlp.Span(
            "",
            "0000000000000000",
            "chat",
            "1700000000000000000",
            "1700000000500000000",
            {
                "gen_ai.request.model": "claude-sonnet-4",
                "gen_ai.response.id": "msg_01",
                "gen_ai.usage.input_tokens": 3000,
                "gen_ai.usage.cache_creation.input_tokens": 2000,
                "gen_ai.usage.cache_read.input_tokens": 500,
                "gen_ai.response.time_to_first_chunk": 0.25,
                "prodlens.accepted": True,
                "prodlens.lines_suggested": 10,
                "prodlens.lines_accepted": 4,
                "prodlens.tags": ["pilot"],
            },
        )
    )
    assert isinstance(event, dict)
    assert event["event_id"] == "msg_01"
    assert (event["input_tokens"], event["cache_creation_tokens"]) == (500, 2000)
    assert event["ttft_ms"] == pytest.approx(250)
    assert (event["accepted"], event["lines_suggested"], event["lines_accepted"]) == (True, 10, 4)
    assert event["tags"] == ["pilot"]


any_values = st.recursive(
    st.builds(lambda v: {"stringValue": v}, st.text(max_size=8))
    | st.builds(lambda v: {"intValue": v}, st.integers() | st.text(max_size=5))
    | st.builds(lambda v: {"boolValue": v}, st.booleans())
    | st.builds(lambda v: {"doubleValue": v}, st.floats()),
    lambda children: st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(children)),
    max_leaves=6,
)
attribute_keys = st.sampled_from(
    [
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.response.finish_reasons",
        "gen_ai.response.time_to_first_chunk",
        "error.type",
        "http.response.status_code",
        "prodlens.tags",
        "prodlens.accepted",
    ]
)
odd_spans = st.fixed_dictionaries(
    {},
    optional={
        "spanId": st.text(max_size=20),
        "traceId": st.none() | st.integers() | st.text(max_size=40),
        "name": st.none() | st.integers() | st.text(max_size=5),
        "startTimeUnixNano": st.none() | st.integers() | st.text(max_size=25) | st.floats(),
        "endTimeUnixNano": st.none() | st.integers() | st.text(max_size=25),
        "status": st.none() | st.dictionaries(st.just("code"), st.integers() | st.lists(st.none())),
        "attributes": st.lists(st.fixed_dictionaries({"key": attribute_keys, "value": any_values})),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(odd_spans, max_size=4))
def test_odd_json_spans_are_mapped_or_rejected(spans: list[dict[str, Any]]) -> None:
    document = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    for item in otlp_wire.items_from_json(document):
        assert isinstance(item, dict | Rejection)
