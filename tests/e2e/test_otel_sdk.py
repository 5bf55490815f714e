"""Real clients against the real server: the OpenTelemetry SDK's OTLP/HTTP exporter, and a
LiteLLM-style logger batch, land as events."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.e2e.server import HTTP_TIMEOUT_S, Server, ingest_account, running_server

pytestmark = pytest.mark.e2e
PASSWORD = "violet-lantern-ocean-42"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Registration is rate limited per IP; this test registers from one.
    with running_server(tmp_path, env={"PRODLENS_RATE_LIMITS__ENABLED": "false"}) as running:
        yield running


def ingest_key(base_url: str) -> tuple[str, str]:
    """A user, a project and an `ingest` key, all made over HTTP: (key, project id)."""
    account = ingest_account(base_url, key_name="collector")
    return account.key, account.project_id


def stored(database: Path, query: str, project_id: str) -> list[Any]:
    """Rows of this test's project only (a development server may hold demo data)."""
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(query, {"project": project_id}).fetchall()


def test_otel_sdk_exporter_lands_genai_spans(server: Server, tmp_path: Path) -> None:
    key, project_id = ingest_key(server.base_url)
    exporter = OTLPSpanExporter(
        endpoint=f"{server.base_url}/api/v1/ingest/otlp/v1/traces",
        headers={"X-API-Key": key},
        timeout=HTTP_TIMEOUT_S,
    )
    provider = TracerProvider(
        resource=Resource.create({"service.name": "review-bot", "enduser.id": "dev-ada"})
    )
    export_ms = HTTP_TIMEOUT_S * 1000
    provider.add_span_processor(BatchSpanProcessor(exporter, export_timeout_millis=export_ms))
    tracer = provider.get_tracer("prodlens-e2e")

    with tracer.start_as_current_span("handle review"):  # not a GenAI span: ignored
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.conversation.id": "review-42",
            },
        ) as span:
            time.sleep(0.02)
            span.set_attributes(
                {
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.response.id": "chatcmpl-e2e",
                    "gen_ai.response.finish_reasons": ["stop"],
                    "gen_ai.usage.input_tokens": 1500,
                    "gen_ai.usage.output_tokens": 300,
                }
            )
        with tracer.start_as_current_span(
            "chat claude-sonnet-4",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4",
                "gen_ai.conversation.id": "review-42",
                "error.type": "overloaded_error",
            },
        ) as failed:
            failed.set_status(Status(StatusCode.ERROR))
    assert provider.force_flush(int(export_ms))
    provider.shutdown()

    rows = stored(
        tmp_path / "var" / "e2e.db",
        "SELECT provider, request_model, response_model, input_tokens, output_tokens, status, "
        "error_type, session_id, developer_id, source, length(event_id), cost_source "
        "FROM events WHERE project_id = :project ORDER BY provider",
        project_id,
    )
    assert rows == [
        (
            "anthropic",
            "claude-sonnet-4",
            "claude-sonnet-4",
            0,
            0,
            "error",
            "overloaded_error",
            "review-42",
            "dev-ada",
            "otlp",
            16,  # the span id, in hex
            "estimated",
        ),
        (
            "openai",
            "gpt-4o",
            "gpt-4o-2024-08-06",
            1500,
            300,
            "ok",
            None,
            "review-42",
            "dev-ada",
            "otlp",
            16,
            "estimated",
        ),
    ]
    sessions = "SELECT events FROM llm_sessions WHERE project_id = :project"
    assert stored(tmp_path / "var" / "e2e.db", sessions, project_id) == [(2,)]


def test_litellm_logger_batch_lands_with_tokens_and_cost(server: Server, tmp_path: Path) -> None:
    key, project_id = ingest_key(server.base_url)
    start = time.time() - 60
    batch = (
        "["
        + ",".join(
            f'{{"id": "call-{n}", "trace_id": "t-{n}", "call_type": "acompletion", '
            f'"status": "success", "custom_llm_provider": "openai", "model": "gpt-4o-mini", '
            f'"model_group": "fast", "startTime": {start + n}, "endTime": {start + n + 0.8}, '
            f'"completionStartTime": {start + n + 0.8}, "prompt_tokens": 400, '
            f'"completion_tokens": 50, "total_tokens": 450, "response_cost": 0.00009, '
            f'"metadata": {{"user_api_key_user_id": "dev-{n}"}}, '
            f'"messages": [{{"role": "user", "content": "hidden prompt {n}"}}], '
            f'"response": {{"model": "gpt-4o-mini-2024-07-18", "choices": []}}}}'
            for n in range(3)
        )
        + "]"
    )
    # As LiteLLM's generic API logger posts it: a JSON array, data= with no content type.
    response = httpx.post(
        f"{server.base_url}/api/v1/ingest/litellm",
        content=batch.encode(),
        headers={"X-API-Key": key},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    assert response.json()["summary"]["accepted"] == 3
    rows = stored(
        tmp_path / "var" / "e2e.db",
        "SELECT event_id, request_model, response_model, input_tokens, output_tokens, "
        "total_tokens, cost_usd, cost_source, developer_id FROM events "
        "WHERE project_id = :project ORDER BY event_id",
        project_id,
    )
    assert rows == [
        (
            f"call-{n}",
            "fast",
            "gpt-4o-mini-2024-07-18",
            400,
            50,
            450,
            pytest.approx(0.00009),
            "reported",
            f"dev-{n}",
        )
        for n in range(3)
    ]
    everything = stored(tmp_path / "var" / "e2e.db", "SELECT * FROM events", project_id)
    assert "hidden prompt" not in str(everything)
