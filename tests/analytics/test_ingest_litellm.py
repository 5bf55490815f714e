"""LiteLLM's StandardLoggingPayload, as its generic API logger posts it, lands as events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodlens.analytics.ingest import litellm
from prodlens.analytics.ingest.events import Rejection
from tests.analytics.helpers import AnalyticsProject, analytics_project
from tests.harness import Harness


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


def payload(number: int, at: datetime, **fields: Any) -> dict[str, Any]:
    """A StandardLoggingPayload shaped like LiteLLM's (litellm/types/utils.py)."""
    start = at.timestamp()
    base: dict[str, Any] = {
        "id": f"litellm-call-{number}",
        "trace_id": f"trace-{number}",
        "call_type": "acompletion",
        "stream": False,
        "response_cost": 0.00425,
        "response_cost_failure_debug_info": None,
        "status": "success",
        "custom_llm_provider": "openai",
        "total_tokens": 1300,
        "prompt_tokens": 1200,
        "completion_tokens": 100,
        "startTime": start,
        "endTime": start + 1.5,
        "completionStartTime": start + 1.5,
        "response_time": 1.5,
        "model_map_information": {"model_map_key": "gpt-4o", "model_map_value": None},
        "model": "gpt-4o",
        "model_id": "deployment-abc",
        "model_group": "gpt-4o",
        "api_base": "https://api.openai.com/v1",
        "metadata": {
            "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "user_api_key_alias": "ada-laptop",
            "user_api_key_user_id": "ada",
            "user_api_key_team_id": "team-core",
            "user_api_key_end_user_id": None,
            "spend_logs_metadata": None,
            "requester_ip_address": "10.0.0.7",
            "requester_metadata": {"session_id": "sess-1", "tags": ["refactor"]},
        },
        "cache_hit": None,
        "cache_key": None,
        "saved_cache_cost": 0.0,
        "request_tags": ["team:core"],
        "end_user": None,
        "requester_ip_address": "10.0.0.7",
        "messages": [{"role": "user", "content": "TOP-SECRET prompt text"}],
        "response": {
            "id": "chatcmpl-123",
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "TOP-SECRET answer"},
                }
            ],
        },
        "error_str": None,
        "error_information": {"error_code": "", "error_class": "", "llm_provider": ""},
        "model_parameters": {"temperature": 0.2},
        "hidden_params": {
            "model_id": "deployment-abc",
            "cache_key": None,
            "api_base": "https://api.openai.com/v1",
            "response_cost": 0.00425,
            "litellm_overhead_time_ms": 3.1,
            "additional_headers": {},
            "litellm_model_name": "gpt-4o",
            "usage_object": {
                "prompt_tokens": 1200,
                "completion_tokens": 100,
                "total_tokens": 1300,
                "prompt_tokens_details": {"cached_tokens": 1000},
            },
        },
    }
    base.update(fields)
    return base


def realistic_batch(now: datetime) -> list[dict[str, Any]]:
    at = now - timedelta(hours=1)
    anthropic = payload(
        2,
        at + timedelta(minutes=1),
        custom_llm_provider="anthropic",
        model="claude-sonnet-4-20250514",
        model_group="claude-sonnet",
        stream=True,
        completionStartTime=(at + timedelta(minutes=1, seconds=0.4)).timestamp(),
        prompt_tokens=5300,
        completion_tokens=250,
        total_tokens=5550,
        response_cost=0.0123,
        response={"model": "claude-sonnet-4-20250514", "choices": []},
        hidden_params={
            "litellm_model_name": "claude-sonnet-4-20250514",
            "usage_object": {
                "prompt_tokens": 5300,
                "completion_tokens": 250,
                "cache_read_input_tokens": 4000,
                "cache_creation_input_tokens": 1000,
                "prompt_tokens_details": {"cached_tokens": 4000},
            },
        },
    )
    failed = payload(
        3,
        at + timedelta(minutes=2),
        status="failure",
        response_cost=0.0,
        prompt_tokens=0,
        completion_tokens=0,
        total_tokens=0,
        response=None,
        error_str="RateLimitError: TOP-SECRET prompt echoed back",
        error_information={
            "error_code": "429",
            "error_class": "RateLimitError",
            "llm_provider": "openai",
            "traceback": "Traceback ... TOP-SECRET",
            "error_message": "TOP-SECRET",
        },
        hidden_params={},
    )
    return [payload(1, at), anthropic, failed]


async def test_generic_logger_batch_lands_as_events(
    harness: Harness, project: AnalyticsProject
) -> None:
    batch = realistic_batch(harness.clock.now())
    # LiteLLM's logger may post without a content type: the body must still be read.
    response = await harness.client.post(
        "/api/v1/ingest/litellm",
        content=json.dumps(batch).encode(),
        headers={"X-API-Key": project.ingest_key, "content-type": ""},
    )
    assert response.status_code == 200, response.text
    assert response.json()["summary"] == {
        "received": 3,
        "accepted": 3,
        "duplicate": 0,
        "rejected": 0,
    }
    rows = await harness.sql(
        "SELECT event_id, provider, operation, request_model, response_model, input_tokens, "
        "output_tokens, cache_read_tokens, cache_creation_tokens, total_tokens, cost_usd, "
        "cost_source, status, error_type, http_status, finish_reason, developer_id, session_id, "
        "source, latency_ms, ttft_ms FROM events ORDER BY event_id"
    )
    by_id = {row[0]: row for row in rows}
    openai = by_id["litellm-call-1"]
    assert openai[1:10] == (
        "openai",
        "chat",
        "gpt-4o",
        "gpt-4o-2024-08-06",
        200,  # 1,200 prompt tokens, 1,000 of them cached
        100,
        1000,
        0,
        1300,
    )
    assert float(openai[10]) == pytest.approx(0.00425)
    assert openai[11:19] == ("reported", "ok", None, None, "stop", "ada", "sess-1", "litellm")
    assert openai[19] == pytest.approx(1500)
    assert openai[20] is None  # not streamed: no first-token time
    anthropic = by_id["litellm-call-2"]
    assert anthropic[1:10] == (
        "anthropic",
        "chat",
        "claude-sonnet",
        "claude-sonnet-4-20250514",
        300,
        250,
        4000,
        1000,
        5550,
    )
    assert anthropic[20] == pytest.approx(400, abs=1)
    failed = by_id["litellm-call-3"]
    assert failed[12:15] == ("error", "RateLimitError", 429)
    [(tags,)] = await harness.sql("SELECT tags FROM events WHERE event_id = 'litellm-call-1'")
    assert sorted(json.loads(tags) if isinstance(tags, str) else tags) == ["refactor", "team:core"]
    everything = str(await harness.sql("SELECT * FROM events"))
    assert "TOP-SECRET" not in everything
    assert "10.0.0.7" not in everything


async def test_ndjson_single_object_and_project_route(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now()
    lines = "\n".join(json.dumps(payload(i, now - timedelta(minutes=i))) for i in range(1, 4))
    headers = {"X-API-Key": project.ingest_key}
    ndjson = await harness.client.post(
        f"{project.base}/ingest/litellm", content=lines, headers=headers
    )
    assert ndjson.json()["summary"]["accepted"] == 3
    single = await harness.client.post(
        "/api/v1/ingest/litellm", json=payload(9, now), headers=headers
    )
    assert single.json()["summary"]["accepted"] == 1
    by_member = await harness.client.post(
        f"{project.base}/ingest/litellm", json=[payload(10, now)], headers=project.owner.headers
    )
    assert by_member.json()["summary"]["accepted"] == 1
    assert await harness.sql("SELECT count(*) FROM events WHERE source = 'litellm'") == [(5,)]


async def test_retries_are_duplicates(harness: Harness, project: AnalyticsProject) -> None:
    batch = realistic_batch(harness.clock.now())
    headers = {"X-API-Key": project.ingest_key}
    await harness.client.post("/api/v1/ingest/litellm", json=batch, headers=headers)
    again = await harness.client.post("/api/v1/ingest/litellm", json=batch, headers=headers)
    assert again.json()["summary"] == {"received": 3, "accepted": 0, "duplicate": 3, "rejected": 0}
    assert await harness.sql("SELECT count(*) FROM events") == [(3,)]


async def test_malformed_items_are_rejected_one_by_one(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now()
    no_start = payload(2, now)
    del no_start["startTime"]
    batch = [
        payload(1, now - timedelta(minutes=1)),
        no_start,
        payload(3, now, prompt_tokens=-4),
        payload(4, now, startTime="yesterday-ish"),
        payload(5, now + timedelta(days=1)),
        None,
        payload(7, now, startTime=1e30),
    ]
    response = await harness.client.post(
        "/api/v1/ingest/litellm", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {"received": 7, "accepted": 1, "duplicate": 0, "rejected": 6}
    reasons = {r["index"]: r["reason"] for r in body["results"] if r["status"] == "rejected"}
    assert reasons[1] == "startTime: required"
    assert "prompt_tokens" in reasons[2]
    assert "started_at" in reasons[3]
    assert "future" in reasons[4]
    assert "JSON object" in reasons[5]
    assert "startTime" in reasons[6]
    assert body["results"][2]["event_id"] == "litellm-call-3"


async def test_unparseable_and_oversized_bodies(
    harness: Harness, project: AnalyticsProject
) -> None:
    headers = {"X-API-Key": project.ingest_key}
    broken = await harness.client.post(
        "/api/v1/ingest/litellm", content=b'[{"id": "x",', headers=headers
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "request.malformed_json"
    huge = b'[{"id": "' + b"x" * (11 * 1024 * 1024) + b'"}]'
    too_big = await harness.client.post("/api/v1/ingest/litellm", content=huge, headers=headers)
    assert too_big.status_code == 413
    too_many = [payload(i, harness.clock.now()) for i in range(1001)]
    refused = await harness.client.post("/api/v1/ingest/litellm", json=too_many, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "ingest.batch_too_large"
    assert await harness.sql("SELECT count(*) FROM events") == [(0,)]


async def test_read_key_and_strangers_cannot_ingest(
    harness: Harness, project: AnalyticsProject
) -> None:
    batch = [payload(1, harness.clock.now())]
    for url in (f"{project.base}/ingest/litellm", "/api/v1/ingest/litellm"):
        response = await harness.client.post(
            url, json=batch, headers={"X-API-Key": project.read_key}
        )
        assert response.status_code == 403
    assert (await harness.client.post("/api/v1/ingest/litellm", json=batch)).status_code == 401
    assert await harness.sql("SELECT count(*) FROM events") == [(0,)]


async def test_cost_estimated_when_litellm_could_not_price(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now()
    unpriced = payload(
        1,
        now,
        response_cost=0.0,
        response_cost_failure_debug_info={"error_str": "model not mapped", "traceback_str": ""},
        prompt_tokens=1_000_000,
        completion_tokens=100_000,
        total_tokens=1_100_000,
        hidden_params={"litellm_model_name": "gpt-4o"},
    )
    await harness.client.post(
        "/api/v1/ingest/litellm", json=[unpriced], headers={"X-API-Key": project.ingest_key}
    )
    [(cost, source)] = await harness.sql("SELECT cost_usd, cost_source FROM events")
    assert (float(cost), source) == pytest.approx((2.50 + 1.00, "estimated"))


def test_mapping_reads_client_metadata_and_litellm_cache_hits() -> None:
    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    event = litellm.to_event(
        payload(
            1,
            at,
            cache_hit=True,
            response_cost=0.0,
            hidden_params={},
            metadata={
                "user_api_key_user_id": "key-owner",
                "spend_logs_metadata": {"developer_id": "grace", "accepted": "true"},
                "requester_metadata": {"lines_suggested": 12, "lines_accepted": 9, "repo": "core"},
            },
        )
    )
    assert not isinstance(event, Rejection)
    assert event["developer_id"] == "grace"
    assert event["accepted"] is True
    assert (event["lines_suggested"], event["lines_accepted"], event["repo"]) == (12, 9, "core")
    # Served from LiteLLM's cache: the whole prompt counts as a cache read.
    assert (event["input_tokens"], event["cache_read_tokens"]) == (0, 1200)
    assert event["attributes"]["cache_hit"] is True
    assert "TOP-SECRET" not in json.dumps(event, default=str)


def test_mapping_without_usage_object_or_provider() -> None:
    event = litellm.to_event(
        {
            "id": "x",
            "call_type": "aembedding",
            "startTime": 1_740_000_000.0,
            "endTime": 1_740_000_000.25,
            "model": "text-embedding-3-small",
            "api_base": "https://my-gateway.example.com/v1",
            "prompt_tokens": 42,
            "status": "success",
        }
    )
    assert not isinstance(event, Rejection)
    assert event["operation"] == "embeddings"
    assert event["provider"] == "my-gateway.example.com"
    assert (event["input_tokens"], event["output_tokens"]) == (42, 0)
    assert "cost_usd" not in event


def test_mapping_status_from_litellm_status() -> None:
    start = {"id": "s", "startTime": 1_740_000_000.0, "error_information": None}
    failed = litellm.to_event({**start, "status": "failure"})
    succeeded = litellm.to_event({**start, "status": "success"})
    assert isinstance(failed, dict)
    assert isinstance(succeeded, dict)
    assert (failed["status"], succeeded["status"]) == ("error", "ok")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
payload_keys = st.sampled_from(
    [
        "id",
        "call_type",
        "startTime",
        "endTime",
        "completionStartTime",
        "stream",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "response_cost",
        "status",
        "api_base",
        "metadata",
        "hidden_params",
        "response",
        "error_information",
        "request_tags",
        "cache_hit",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(payload_keys, json_values, max_size=10))
def test_mapping_never_raises_on_odd_payloads(odd: dict[str, Any]) -> None:
    """Whatever a sender puts in the fields, the item is mapped or rejected, never a 500."""
    result = litellm.to_event(odd)
    assert isinstance(result, dict | Rejection)


@pytest.mark.parametrize(
    "odd",
    [
        {"startTime": 1_740_000_000.0, "prompt_tokens": 10**400},
        {"startTime": 10**400},
        {"startTime": 1_740_000_000.0, "api_base": "http://[::1"},
        {"startTime": 1_740_000_000.0, "response_cost": "1e999"},
    ],
)
def test_mapping_survives_extreme_values(odd: dict[str, Any]) -> None:
    assert isinstance(litellm.to_event(odd), dict | Rejection)
