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


def _events(log: str) -> list[str]:
    return [json.loads(line)["event"] for line in log.splitlines() if line.startswith("{")]


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


# Runs in every interpreter of the test's server; only multiprocessing's spawned
# children (uvicorn's workers) are slowed, before anything of theirs can answer the
# supervisor's health check: a loaded machine starting a worker, made repeatable.
SLOW_WORKER_START = """
import sys
import time

if any("spawn_main" in argument for argument in sys.orig_argv):
    time.sleep({seconds})
"""
WORKER_START_S = 8  # past uvicorn's default 5 s health check


def test_workers_that_start_slowly_are_not_killed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_WORKER_START.format(seconds=WORKER_START_S))
    env = {"PYTHONPATH": str(site)}
    with running_server(tmp_path, "--workers", "2", env=env) as server:

        def both_started() -> bool:
            return _events(server.output()).count("startup") == 2

        server.wait_until(both_started, "started in both workers")
        assert httpx.get(f"{server.base_url}/health/live", timeout=HTTP_TIMEOUT_S).is_success
        code, stderr = server.stop()

    assert code == 0, stderr
    assert "died" not in stderr  # no worker was killed and replaced
    assert "Traceback" not in stderr
