"""OTLP/HTTP metrics and logs: GenAI client metrics from any SDK, cumulative streams
(increases, resets, re-sent exports), OTLP/JSON, and bad input answered with a 4xx
or a per-point rejection, never a 500."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality as SdkTemporality
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from prodlens.analytics.ingest import otlp_wire
from prodlens.analytics.ingest.events import Rejection
from tests.analytics.helpers import AnalyticsProject, analytics_project
from tests.analytics.test_ingest_claude_code import (
    ADA,
    api_request,
    facts,
    log_record,
    sdk_log_batch,
)
from tests.harness import Harness

METRICS = "/api/v1/ingest/otlp/v1/metrics"
LOGS = "/api/v1/ingest/otlp/v1/logs"
PROTOBUF = "application/x-protobuf"


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


def nanos(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000


def genai_export(reader: InMemoryMetricReader) -> dict[str, Any]:
    """The SDK's own OTLP encoding of what the reader collected, in OTLP/JSON."""
    data = reader.get_metrics_data()
    assert data is not None
    return json_format.MessageToDict(encode_metrics(data))


async def post_json(
    harness: Harness, project: AnalyticsProject, url: str, document: Any
) -> dict[str, Any]:
    response = await harness.client.post(
        url, json=document, headers={"X-API-Key": project.ingest_key}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return dict(response.json())


async def genai_facts(harness: Harness) -> list[tuple[str, str, str, Any]]:
    rows = await harness.sql(
        "SELECT developer_id, metric, dimensions, value FROM assistant_daily "
        "WHERE source = 'otel' ORDER BY developer_id, metric, dimensions"
    )
    return [(d, m, dims, pytest.approx(v)) for d, m, dims, v in rows]


async def test_genai_histograms_from_any_sdk_land_per_developer_and_model(
    harness: Harness, project: AnalyticsProject
) -> None:
    """As an instrumentation (e.g. openai-v2) records them; cumulative, sent as
    OTLP/JSON twice and then once more after more calls: nothing counts twice."""
    reader = InMemoryMetricReader(preferred_temporality={Histogram: SdkTemporality.CUMULATIVE})
    provider = MeterProvider(
        resource=Resource.create({"service.name": "review-bot", "enduser.id": "dev-ada"}),
        metric_readers=[reader],
    )
    meter = provider.get_meter("opentelemetry.instrumentation.openai_v2")
    tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    call = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
    }
    tokens.record(1200, {**call, "gen_ai.token.type": "input"})
    tokens.record(80, {**call, "gen_ai.token.type": "output"})
    duration.record(1.5, call)
    duration.record(0.25, {**call, "error.type": "RateLimitError"})
    tokens.record(300, {**call, "gen_ai.token.type": "input", "user.id": "dev-grace"})
    duration.record(0.5, {**call, "user.id": "dev-grace"})

    first = genai_export(reader)
    assert "partialSuccess" not in await post_json(harness, project, METRICS, first)
    assert "partialSuccess" not in await post_json(harness, project, METRICS, first)
    tokens.record(800, {**call, "gen_ai.token.type": "input"})
    duration.record(2.0, call)
    await post_json(harness, project, METRICS, genai_export(reader))
    provider.shutdown()

    model = "model=gpt-4o-2024-08-06;operation=chat;provider=openai"
    assert await genai_facts(harness) == [
        ("dev-ada", "calls", model, 3),  # 1.5 s, 0.25 s (failed), 2.0 s
        ("dev-ada", "duration_ms_sum", model, 3750),
        ("dev-ada", "errors", "error_type=RateLimitError;model=gpt-4o-2024-08-06", 1),
        ("dev-ada", "tokens", f"{model};type=input", 2000),
        ("dev-ada", "tokens", f"{model};type=output", 80),
        ("dev-grace", "calls", model, 1),
        ("dev-grace", "duration_ms_sum", model, 500),
        ("dev-grace", "tokens", f"{model};type=input", 300),
    ]


def counter_export(
    *points: tuple[int, int, float], cumulative: bool = True, name: str = "claude_code.commit.count"
) -> bytes:
    """A Claude Code counter: each point (start ns, time ns, value)."""
    attributes = [
        KeyValue(key="user.email", value=AnyValue(string_value="ada@example.com")),
        KeyValue(key="session.id", value=AnyValue(string_value="s-1")),
    ]
    temporality = (
        AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
        if cumulative
        else AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    )
    metric = Metric(
        name=name,
        sum=Sum(
            aggregation_temporality=temporality,
            is_monotonic=True,
            data_points=[
                NumberDataPoint(
                    attributes=attributes,
                    start_time_unix_nano=start,
                    time_unix_nano=time,
                    as_int=int(value),
                )
                for start, time, value in points
            ],
        ),
    )
    request = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                scope_metrics=[ScopeMetrics(metrics=[metric])],
            )
        ]
    )
    return request.SerializeToString()


async def post_protobuf(
    harness: Harness, project: AnalyticsProject, body: bytes
) -> ExportMetricsServiceResponse:
    response = await harness.client.post(
        METRICS, content=body, headers={"X-API-Key": project.ingest_key, "content-type": PROTOBUF}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == PROTOBUF
    return ExportMetricsServiceResponse.FromString(response.content)


async def test_cumulative_streams_add_increases_and_count_resets_whole(
    harness: Harness, project: AnalyticsProject
) -> None:
    at = nanos(harness.clock.now() - timedelta(hours=1))
    minute = 60 * 1_000_000_000
    started, restarted = at - 10 * minute, at + 5 * minute
    exports = [
        counter_export((started, at, 3)),  # first sight: the whole 3
        counter_export((started, at + minute, 5)),  # +2
        counter_export((started, at + minute, 5)),  # the same point again: +0
        counter_export((started, at + 2 * minute, 4)),  # lower: a reset, +4
        counter_export((restarted, at + 6 * minute, 1)),  # a new start: +1
        counter_export((restarted, at + 7 * minute, 1)),  # unchanged: +0
    ]
    for body in exports:
        answer = await post_protobuf(harness, project, body)
        assert not answer.HasField("partial_success")
    assert await facts(harness, "commits") == {"ada@example.com": 10}
    # Delta points are added as they come; gzip is fine.
    response = await harness.client.post(
        METRICS,
        content=gzip.compress(counter_export((at, at + minute, 2), cumulative=False)),
        headers={
            "X-API-Key": project.ingest_key,
            "content-type": PROTOBUF,
            "content-encoding": "gzip",
        },
    )
    assert response.status_code == 200
    assert await facts(harness, "commits") == {"ada@example.com": 12}
    # The project-scoped route, with a member's token.
    pull_request = counter_export(
        (at, at + minute, 1), cumulative=False, name="claude_code.pull_request.count"
    )
    scoped = await harness.client.post(
        f"{project.base}/ingest/otlp/v1/metrics",
        content=pull_request,
        headers={**project.owner.headers, "content-type": PROTOBUF},
    )
    assert scoped.status_code == 200, scoped.text
    assert await facts(harness, "pull_requests") == {"ada@example.com": 1}


async def test_points_that_cannot_count_are_rejected_one_by_one(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = nanos(harness.clock.now())
    point = {
        "attributes": [{"key": "user.email", "value": {"stringValue": "ada@example.com"}}],
        "startTimeUnixNano": str(now - 10**9),
        "timeUnixNano": str(now),
        "asInt": "4",
    }

    def metric(name: str, temporality: Any, *points: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "sum": {"aggregationTemporality": temporality, "dataPoints": list(points)},
        }

    document = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            metric("claude_code.commit.count", 1, point),  # delta: counted
                            metric("claude_code.pull_request.count", 0, point),  # unspecified
                            metric(
                                "claude_code.session.count",
                                "AGGREGATION_TEMPORALITY_DELTA",
                                {**point, "timeUnixNano": str(now + 3600 * 10**9)},  # future
                                {**point, "asInt": "lots"},
                                {k: v for k, v in point.items() if k != "asInt"},
                                {**point, "asDouble": -1.0},
                            ),
                            metric("http.server.duration", 0, point),  # not ours: ignored
                            {"name": "claude_code.cost.usage", "gauge": {"dataPoints": [point]}},
                        ]
                    }
                ]
            }
        ]
    }
    answer = await post_json(harness, project, METRICS, document)
    partial = answer["partialSuccess"]
    assert int(partial["rejectedDataPoints"]) == 5
    message = partial["errorMessage"]
    assert "claude_code.pull_request.count: aggregationTemporality" in message
    assert "in the future" in message
    assert "asInt: not a number" in message or "value: not a number" in message
    assert "no value" in message
    assert await facts(harness, "commits") == {"ada@example.com": 4}
    assert await facts(harness, "sessions") == {}


@pytest.mark.parametrize("url", [METRICS, LOGS])
async def test_bad_bodies_are_refused(
    harness: Harness, project: AnalyticsProject, url: str
) -> None:
    key = {"X-API-Key": project.ingest_key}
    garbage = await harness.client.post(
        url, content=b"\xff\xff\xff\xff", headers={**key, "content-type": PROTOBUF}
    )
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "ingest.invalid_otlp"
    not_otlp = await harness.client.post(url, json=[1, 2], headers=key)
    assert (not_otlp.status_code, not_otlp.json()["code"]) == (400, "ingest.invalid_otlp")
    broken = await harness.client.post(
        url, content=b'{"resource', headers={**key, "content-type": "application/json"}
    )
    assert (broken.status_code, broken.json()["code"]) == (400, "request.malformed_json")
    bad_gzip = await harness.client.post(
        url, content=b"nope", headers={**key, "content-type": PROTOBUF, "content-encoding": "gzip"}
    )
    assert bad_gzip.status_code == 400
    wrong_type = await harness.client.post(
        url, content=b"x", headers={**key, "content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    read_key = await harness.client.post(
        url, content=b"", headers={"X-API-Key": project.read_key, "content-type": PROTOBUF}
    )
    assert read_key.status_code == 403
    assert await harness.sql("SELECT count(*) FROM assistant_daily") == [(0,)]


async def test_logs_as_otlp_json_and_bad_records_rejected_alone(
    harness: Harness, project: AnalyticsProject
) -> None:
    at = harness.clock.now() - timedelta(minutes=5)
    batch = sdk_log_batch(
        [
            api_request(ADA, 11, at),
            api_request(ADA, 12, at, input_tokens="lots"),
            log_record(ADA, "tool_result", 13, at + timedelta(days=2), tool_name="Bash",
                       success="false"),
            log_record(ADA, "hook_registered", 14, at, hook_event="PreToolUse"),  # ignored
        ]
    )  # fmt: skip
    document = json_format.MessageToDict(encode_logs(batch))
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"].append("not a record")
    answer = await post_json(harness, project, LOGS, document)
    partial = answer["partialSuccess"]
    assert int(partial["rejectedLogRecords"]) == 3
    assert "cc-sess-ada-1-12" in partial["errorMessage"]
    assert "input_tokens" in partial["errorMessage"]
    assert "in the future" in partial["errorMessage"]
    assert await harness.sql("SELECT event_id, input_tokens, source FROM events") == [
        ("cc-sess-ada-1-11", 1000, "claude_code")
    ]
    assert await facts(harness, "tool_results") == {}
    protobuf = await harness.client.post(
        LOGS,
        content=encode_logs(batch[:1]).SerializeToString(),
        headers={"X-API-Key": project.ingest_key, "content-type": PROTOBUF},
    )
    assert protobuf.status_code == 200
    assert not ExportLogsServiceResponse.FromString(protobuf.content).HasField("partial_success")
    assert await harness.sql("SELECT count(*) FROM events") == [(1,)]  # the same id


any_values = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
odd_points = st.dictionaries(
    st.sampled_from(
        ["asInt", "asDouble", "sum", "count", "timeUnixNano", "startTimeUnixNano", "attributes"]
    ),
    any_values,
)
odd_metrics = st.fixed_dictionaries(
    {"name": st.sampled_from(["claude_code.token.usage", "gen_ai.client.token.usage", "x"])},
    optional={
        kind: st.fixed_dictionaries(
            {},
            optional={
                "aggregationTemporality": any_values,
                "dataPoints": st.lists(odd_points, max_size=3) | any_values,
            },
        )
        for kind in ("sum", "histogram", "gauge")
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(odd_metrics, max_size=4))
def test_odd_json_metrics_are_read_or_rejected(metrics: list[dict[str, Any]]) -> None:
    document = {"resourceMetrics": [{"scopeMetrics": [{"metrics": metrics}]}]}
    for point in otlp_wire.points_from_json(document):
        assert isinstance(point, Rejection) or math.isfinite(point.value)


def test_an_export_response_is_the_encoding_asked_for() -> None:
    assert otlp_wire.metrics_response([], protobuf=True) == b""
    answer = json.loads(otlp_wire.logs_response(["a", "b"], protobuf=False))
    assert answer == {"partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "a; b"}}


async def test_concurrent_exports_of_one_cumulative_stream_count_it_once(
    harness: Harness, project: AnalyticsProject
) -> None:
    at = nanos(harness.clock.now() - timedelta(minutes=10))
    body = counter_export((at - 10**9, at, 5))
    answers = await asyncio.gather(*(post_protobuf(harness, project, body) for _ in range(4)))
    assert not any(answer.HasField("partial_success") for answer in answers)
    assert await facts(harness, "commits") == {"ada@example.com": 5}
