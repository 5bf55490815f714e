"""The real server process: start, answer, shut down cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import HTTP_TIMEOUT_S, running_server

pytestmark = pytest.mark.e2e


def request_count(metrics_text: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "prodlens_http_requests_total" and sample.labels["route"] == route
    )


def test_serve_answers_and_stops_cleanly(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT_S) as client:
            ready = client.get("/health/ready")
            assert ready.status_code == 200, ready.text  # serve migrated the SQLite database
            assert client.get("/docs").status_code == 200
            assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "ProdLens API"
            missing = client.get("/nope", headers={"X-Correlation-ID": "e2e-1"})
            assert missing.status_code == 404
            assert missing.headers["x-correlation-id"] == "e2e-1"
            text = client.get("/metrics").text
            assert request_count(text, "/health/ready") == 1
            assert request_count(text, "/api/v1/openapi.json") == 1
        code, stderr = server.stop()

    assert code == 0, stderr
    assert "Traceback" not in stderr
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert "startup" in events
    assert "shutdown" in events
    access = [json.loads(line) for line in stderr.splitlines() if '"request"' in line]
    assert any(line.get("correlation_id") == "e2e-1" for line in access)


def test_metrics_are_aggregated_across_workers(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "2") as server:
        with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT_S) as client:
            for _ in range(40):
                # A new connection each time, so both workers take requests.
                live = httpx.get(f"{server.base_url}/health/live", timeout=HTTP_TIMEOUT_S)
                assert live.status_code == 200
            text = client.get("/metrics").text
        code, stderr = server.stop()

    # Whichever worker answered the scrape, it reports every worker's requests.
    assert request_count(text, "/health/live") == 40
    assert code == 0, stderr
    assert "Traceback" not in stderr
