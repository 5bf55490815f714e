"""LiteLLM's StandardLoggingPayload, as its generic API logger posts it, lands as events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodlens.analytics.identities import Sighting
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


# --- what a real LiteLLM proxy (1.108.7) sends behind its master key --------------------


def proxy_payload(number: int, at: datetime, user: str | None, **fields: Any) -> dict[str, Any]:
    """A call through a proxy's model group with the master key, as the proxy logs it:
    its placeholder `default_user_id` as the key's user, the request's `user` as end user,
    the group's alias as the response's model, and a zero cost it could not compute."""
    start = at.timestamp()
    base: dict[str, Any] = {
        "id": f"chatcmpl-proxy-{number}",
        "trace_id": "0b3c1f6e-5d2a-4c8b-9e7f-1a2b3c4d5e6f",  # generated: not a session
        "session_id": "",
        "call_type": "acompletion",
        "stream": None,
        "status": "success",
        "response_cost": 0.0,
        "response_cost_failure_debug_info": None,
        "custom_llm_provider": "anthropic",
        "total_tokens": 30,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "startTime": start,
        "endTime": start + 0.25,
        "completionStartTime": start + 0.25,
        "model": "anthropic/claude-sonnet-4-20250514",
        "model_id": "6dcbb4cd467906d68588bf4dd0d6a909f6142b380403e676d09dd938dff6611c",
        "model_group": "claude-sonnet",
        "api_base": "",
        "end_user": user,
        "model_parameters": {"stream": False, "user": user},
        "metadata": {
            "user_api_key_hash": "litellm_proxy_master_key",
            "user_api_key_user_id": "default_user_id",
            "user_api_key_end_user_id": user,
            "user_api_key_request_route": "/chat/completions",
            "requester_metadata": {"headers": {"user-agent": "OpenAI/Python 3.60.0"}},
        },
        "messages": [{"role": "user", "content": "TOP-SECRET prompt"}],
        "response": {
            "model": "claude-sonnet",
            "choices": [{"finish_reason": "stop", "message": {"content": "TOP-SECRET answer"}}],
        },
        "error_information": {"error_code": "", "error_class": "", "llm_provider": ""},
        "hidden_params": {
            "model_id": "6dcbb4cd467906d68588bf4dd0d6a909f6142b380403e676d09dd938dff6611c",
            "response_cost": 0.0,
            "litellm_model_name": "anthropic/claude-sonnet-4-20250514",
            "usage_object": None,
        },
    }
    base.update(fields)
    return base


def failure(
    number: int, at: datetime, user: str | None, error: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """A failed call as the proxy logs it: no tokens, no cost, `error_information`."""
    return proxy_payload(
        number,
        at,
        user,
        status="failure",
        prompt_tokens=0,
        completion_tokens=0,
        total_tokens=0,
        response=None,
        error_str="TOP-SECRET error text",
        error_information=error,
        hidden_params={"model_id": None, "api_base": None, "litellm_model_name": None},
        **fields,
    )


UNKNOWN_MODEL = {
    "error_code": "400",
    "error_class": "ProxyModelNotFoundError",
    "llm_provider": "",
    "error_message": "400: Invalid model name passed in model=nope-model.",
    "normalized_error": "400_INVALID_REQUEST",
}
WRONG_KEY = {
    "error_code": "401",
    "error_class": "ProxyException",
    "llm_provider": "",
    "error_message": "Authentication Error, Invalid proxy server token passed.",
    "normalized_error": "401_AUTHENTICATION_FAILED",
}
BUDGET = {
    "error_code": "400",
    "error_class": "BudgetExceededError",
    "llm_provider": "",
    "error_budget_entity_type": "end_user",
    "normalized_error": "429_BUDGET_EXCEEDED",
}
PROXY_RATE_LIMIT = {
    "error_code": "429",
    "error_class": "RateLimitError",
    "llm_provider": "openai",
    "error_rate_limit_category": "litellm_rate_limit",
    "normalized_error": "429_RATE_LIMIT_EXCEEDED",
}
PROVIDER_RATE_LIMIT = {
    "error_code": "429",
    "error_class": "RateLimitError",
    "llm_provider": "openai",
    "error_rate_limit_category": "vendor_rate_limit",
    "normalized_error": "429_RATE_LIMIT_EXCEEDED",
}


def mapped(item: dict[str, Any]) -> dict[str, Any]:
    event = litellm.to_event(item)
    assert isinstance(event, dict), event
    return event


AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def raw_metrics(harness: Harness, project: AnalyticsProject, **params: Any) -> dict[str, Any]:
    now = harness.clock.now()
    response = await harness.client.get(
        f"{project.base}/metrics/raw",
        params={
            "since": (now - timedelta(days=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
            **params,
        },
        headers=project.owner.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_master_key_callers_are_their_own_developers(
    harness: Harness, project: AnalyticsProject
) -> None:
    """Behind the master key LiteLLM names every caller `default_user_id`; the request's
    `user` is who made the call."""
    at = harness.clock.now() - timedelta(minutes=30)
    batch = [
        proxy_payload(i, at + timedelta(seconds=i), user)
        for i, user in enumerate(["ada", "bob", "cy", "dee", "ada"])
    ]
    batch.append(proxy_payload(9, at, None))  # no user at all: unknown, not the placeholder
    response = await harness.client.post(
        "/api/v1/ingest/litellm", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    assert response.json()["summary"]["accepted"] == 6, response.text
    developers = await harness.client.get(
        f"{project.base}/developers", headers=project.owner.headers
    )
    assert developers.status_code == 200, developers.text
    counts = {item["developer_id"]: item["events"] for item in developers.json()["items"]}
    assert counts == {"ada": 2, "bob": 1, "cy": 1, "dee": 1}
    assert await harness.sql(
        "SELECT count(*) FROM events WHERE developer_id = 'default_user_id'"
    ) == [(0,)]


def test_developer_precedence() -> None:
    explicit = proxy_payload(
        1,
        AT,
        "shared-bot",
        metadata={
            "user_api_key_user_id": "key-owner",
            "user_api_key_end_user_id": "shared-bot",
            "requester_metadata": {"developer_id": "grace"},
        },
    )
    assert mapped(explicit)["developer_id"] == "grace"
    spend_logs = proxy_payload(2, AT, "bot", metadata={"spend_logs_metadata": {"developer": "lin"}})
    assert mapped(spend_logs)["developer_id"] == "lin"
    # The end user over the key's real user: a team's shared key, each caller named.
    end_user = proxy_payload(
        3,
        AT,
        "ada",
        metadata={"user_api_key_user_id": "platform", "user_api_key_end_user_id": "ada"},
    )
    assert mapped(end_user)["developer_id"] == "ada"
    # Only the payload's `end_user` (older proxies read the body's `user` into it).
    body_user = proxy_payload(4, AT, None, end_user="bob", metadata={})
    assert mapped(body_user)["developer_id"] == "bob"
    # The SDK without a proxy: the request's `user` is only in `model_parameters`.
    sdk = proxy_payload(5, AT, None, model_parameters={"user": "cy"}, metadata={})
    assert mapped(sdk)["developer_id"] == "cy"


def test_key_user_team_and_alias_when_no_end_user() -> None:
    def owner(**metadata: Any) -> str | None:
        event = mapped(proxy_payload(1, AT, None, metadata=metadata))
        return event.get("developer_id")

    assert owner(user_api_key_user_id="u-ada", user_api_key_team_id="team-core") == "u-ada"
    assert owner(user_api_key_user_id="default_user_id", user_api_key_team_id="team-core") == (
        "team-core"
    )
    assert owner(user_api_key_team_alias="core", user_api_key_alias="ada-laptop") == "core"
    assert owner(user_api_key_alias="ada-laptop") == "ada-laptop"


@pytest.mark.parametrize("placeholder", sorted(litellm.PLACEHOLDERS))
def test_litellm_placeholders_are_nobody(placeholder: str) -> None:
    event = mapped(
        proxy_payload(
            1,
            AT,
            None,
            metadata={
                "user_api_key_user_id": placeholder,
                "user_api_key_team_id": placeholder,
                "user_api_key_alias": placeholder,
            },
        )
    )
    assert "developer_id" not in event
    assert placeholder not in json.dumps(event["attributes"])


def test_session_precedence() -> None:
    generated = mapped(proxy_payload(1, AT, "ada"))
    assert "session_id" not in generated  # LiteLLM's own per-call trace id
    assert generated["attributes"]["litellm_trace_id"] == "0b3c1f6e-5d2a-4c8b-9e7f-1a2b3c4d5e6f"
    # The SDK's `metadata={"session_id": ...}` or `litellm_session_id=...` land in trace_id.
    caller_trace = mapped(proxy_payload(2, AT, "ada", trace_id="refactor-42"))
    assert caller_trace["session_id"] == "refactor-42"
    # `litellm.request_correlation_in_logs`: the session apart from the trace.
    correlated = mapped(proxy_payload(3, AT, "ada", trace_id="trace-9", session_id="conv-7"))
    assert correlated["session_id"] == "conv-7"
    explicit = proxy_payload(
        4,
        AT,
        "ada",
        trace_id="s-from-trace",
        session_id="conv-7",
        metadata={"requester_metadata": {"session_id": "s-explicit"}},
    )
    assert mapped(explicit)["session_id"] == "s-explicit"
    in_spend_logs = proxy_payload(
        5, AT, "ada", metadata={"spend_logs_metadata": {"session": "s-spend"}}
    )
    assert mapped(in_spend_logs)["session_id"] == "s-spend"


def test_model_group_alias_gives_the_deployment_model() -> None:
    event = mapped(proxy_payload(1, AT, "ada"))
    assert event["request_model"] == "claude-sonnet"
    assert event["response_model"] == "claude-sonnet-4-20250514"
    assert event["attributes"]["model_group"] == "claude-sonnet"
    # Only `hidden_params` names it (no `model`).
    hidden = mapped(proxy_payload(2, AT, "ada", model=None))
    assert hidden["response_model"] == "claude-sonnet-4-20250514"
    # A response model more precise than the group is the answering model.
    dated = proxy_payload(
        3,
        AT,
        "ada",
        model="openai/gpt-4o",
        model_group="gpt-4o",
        custom_llm_provider="openai",
        response={"model": "gpt-4o-2024-08-06", "choices": []},
    )
    assert (mapped(dated)["request_model"], mapped(dated)["response_model"]) == (
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    # Another provider's prefix is part of the name (a router of routers).
    nested = mapped(proxy_payload(4, AT, "ada", model="openrouter/anthropic/claude-3-5-haiku",
                                  custom_llm_provider="openrouter"))  # fmt: skip
    assert nested["response_model"] == "anthropic/claude-3-5-haiku"


async def test_zero_cost_with_tokens_is_estimated(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now() - timedelta(minutes=5)
    unpriced = proxy_payload(1, now, "ada", prompt_tokens=1_000_000, completion_tokens=100_000,
                             total_tokens=1_100_000)  # fmt: skip
    free = proxy_payload(2, now, "ada", prompt_tokens=0, completion_tokens=0, total_tokens=0)
    cached = proxy_payload(3, now, "ada", cache_hit=True)  # LiteLLM's cache: really free
    await harness.client.post(
        "/api/v1/ingest/litellm",
        json=[unpriced, free, cached],
        headers={"X-API-Key": project.ingest_key},
    )
    rows = await harness.sql("SELECT event_id, cost_usd, cost_source FROM events ORDER BY event_id")
    costs = {row[0]: (float(row[1]), row[2]) for row in rows}
    # claude-sonnet-4: $3 per million input tokens, $15 per million output tokens.
    assert costs["chatcmpl-proxy-1"] == pytest.approx((3.0 + 1.5, "estimated"))
    assert costs["chatcmpl-proxy-2"] == (0.0, "reported")
    assert costs["chatcmpl-proxy-3"] == (0.0, "reported")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UNKNOWN_MODEL, "refused"),
        (WRONG_KEY, "refused"),
        (BUDGET, "refused"),
        (PROXY_RATE_LIMIT, "refused"),
        ({**PROVIDER_RATE_LIMIT, "error_class": "RouterRateLimitError"}, "refused"),
        (PROVIDER_RATE_LIMIT, "error"),
        (
            {
                "error_code": "500",
                "error_class": "InternalServerError",
                "llm_provider": "openai",
                "normalized_error": "500_PROVIDER_CONNECTION_ERROR",
            },
            "error",
        ),
        ({}, "error"),  # nothing says where it failed: a failed call
    ],
)
def test_proxy_side_rejections_are_refused(error: dict[str, Any], status: str) -> None:
    event = mapped(failure(1, AT, "dee", error))
    assert event["status"] == status
    if error:
        assert event["error_type"] == error["error_class"]
        assert event["http_status"] == int(error["error_code"])


async def test_refused_requests_are_counted_apart_from_calls(
    harness: Harness, project: AnalyticsProject
) -> None:
    at = harness.clock.now() - timedelta(minutes=10)
    batch = [
        proxy_payload(1, at, "dee"),
        failure(2, at, "dee", PROVIDER_RATE_LIMIT),
        failure(3, at, "dee", UNKNOWN_MODEL, model="nope-model", model_group="", model_id=""),
        failure(4, at, None, WRONG_KEY, metadata={"user_api_key_hash": "2ab06cfa"}),
        # eve only ever asked for a model the proxy does not have: no call, no developer
        failure(5, at, "eve", UNKNOWN_MODEL, model="nope-model", model_group="", model_id=""),
    ]
    response = await harness.client.post(
        "/api/v1/ingest/litellm", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    assert response.json()["summary"]["accepted"] == 5, response.text
    everyone = await raw_metrics(harness, project)
    assert (everyone["events"], everyone["errors"], everyone["refused"]) == (2, 1, 3)
    assert everyone["active_developers"] == 1
    developers = await harness.client.get(
        f"{project.base}/developers", headers=project.owner.headers
    )
    assert [d["developer_id"] for d in developers.json()["items"]] == ["dee"]
    profile = await harness.client.get(
        f"{project.base}/developers/dee", headers=project.owner.headers
    )
    assert [m["model"] for m in profile.json()["models"]] == ["claude-sonnet-4-20250514"]
    dee = await raw_metrics(harness, project, developer="dee")
    assert (dee["events"], dee["errors"], dee["refused"]) == (2, 1, 1)
    kpis = await harness.client.get(
        f"{project.base}/metrics",
        params={"since": (at - timedelta(hours=1)).isoformat()},
        headers=project.owner.headers,
    )
    assert kpis.status_code == 200, kpis.text
    error_rate = next(k for k in kpis.json()["kpis"] if k["name"] == "error_rate")
    assert error_rate["value"] == pytest.approx(0.5)  # 1 of 2 calls, not 3 of 4 requests
    assert "TOP-SECRET" not in str(await harness.sql("SELECT * FROM events"))


def v1_payload(number: int, at: datetime) -> dict[str, Any]:
    """`litellm.generic_api_use_v1`: GenericAPILogger._get_v1_logging_payload, every value
    turned into a string."""
    start = at.replace(tzinfo=None)
    return {
        key: str(value)
        for key, value in {
            "id": f"chatcmpl-v1-{number}",
            "call_type": "acompletion",
            "cache_hit": False,
            "startTime": start,
            "endTime": start + timedelta(seconds=1),
            "model": "gpt-4o",
            "user": "ada",
            "modelParameters": {"temperature": 0.2},
            "messages": [{"role": "user", "content": "TOP-SECRET"}],
            "response": {"id": "x"},
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
            "metadata": {},
            "cost": 0.0001,
        }.items()
    }


async def test_v1_payloads_are_rejected_with_what_to_configure(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now() - timedelta(minutes=1)
    response = await harness.client.post(
        "/api/v1/ingest/litellm",
        json=[v1_payload(1, now), proxy_payload(2, now, "ada")],
        headers={"X-API-Key": project.ingest_key},
    )
    body = response.json()
    assert body["summary"] == {"received": 2, "accepted": 1, "duplicate": 0, "rejected": 1}
    rejected = body["results"][0]
    assert rejected["status"] == "rejected"
    assert rejected["event_id"] == "chatcmpl-v1-1"
    assert "generic_api_use_v1" in rejected["reason"]
    assert await harness.sql("SELECT count(*) FROM events") == [(1,)]


def test_key_owner_email_is_a_sighting() -> None:
    metadata = {
        "user_api_key_user_id": "u-123",
        "user_api_key_user_email": "ada@example.com",
        "user_api_key_end_user_id": "ada",
    }
    found = litellm.sighting(proxy_payload(1, AT, "ada", metadata=metadata))
    assert found == Sighting(identity="u-123", kind="litellm", email="ada@example.com")
    for other in (
        {**metadata, "user_api_key_user_id": "default_user_id"},  # the master key: nobody
        {**metadata, "user_api_key_user_id": "ADA@example.com"},  # the same identifier
        {"user_api_key_user_id": "u-123"},  # no email
    ):
        assert litellm.sighting(proxy_payload(1, AT, "ada", metadata=other)) is None
    assert litellm.sighting("not a payload") is None


async def test_a_key_owners_email_links_the_key_user_to_that_developer(
    harness: Harness, project: AnalyticsProject
) -> None:
    """Calls with a virtual key of user `u-123` (no end user) are credited to `u-123`;
    LiteLLM sends the key owner's email with them, so `u-123` joins that developer."""
    at = harness.clock.now() - timedelta(minutes=10)
    metadata = {"user_api_key_user_id": "u-123", "user_api_key_user_email": "ada@example.com"}
    batch = [
        proxy_payload(1, at, None, metadata=metadata),
        proxy_payload(2, at, "ada@example.com"),  # her own calls, by email
    ]
    response = await harness.client.post(
        "/api/v1/ingest/litellm", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    assert response.json()["summary"]["accepted"] == 2, response.text
    links = await harness.client.get(
        f"{project.base}/developers/ada@example.com/identities", headers=project.owner.headers
    )
    assert [(i["identity"], i["kind"], i["automatic"]) for i in links.json()["items"]] == [
        ("u-123", "litellm", True)
    ]
    ada = await raw_metrics(harness, project, developer="ada@example.com")
    assert ada["events"] == 2
    developers = await harness.client.get(
        f"{project.base}/developers", headers=project.owner.headers
    )
    assert [d["developer_id"] for d in developers.json()["items"]] == ["ada@example.com"]
