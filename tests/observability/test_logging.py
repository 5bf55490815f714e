from __future__ import annotations

import json

import pytest
import structlog

from prodlens.app import create_app
from prodlens.observability.logging import REDACTED
from tests.conftest import SettingsFactory, serving


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_json_access_line_carries_correlation_id(
    capsys: pytest.CaptureFixture[str], make_sqlite_settings: SettingsFactory
) -> None:
    async with serving(
        create_app(make_sqlite_settings(env="staging", log_format="auto"))
    ) as client:
        capsys.readouterr()
        await client.get("/health/ready", headers={"X-Correlation-ID": "trace-77"})
    records = json_lines(capsys.readouterr().err)
    access = [r for r in records if r["event"] == "request"]
    assert len(access) == 1
    line = access[0]
    assert line["correlation_id"] == "trace-77"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/health/ready", 200)
    assert isinstance(line["duration_ms"], float)
    # Every server line logged while handling the request carries the id, not just the access
    # line (the test client's own httpx line and the lifespan's shutdown are outside a request).
    server_lines = [r for r in records if r["logger"] != "httpx" and r["event"] != "shutdown"]
    assert server_lines
    assert all(r.get("correlation_id") == "trace-77" for r in server_lines)


async def test_development_logs_are_console_text(
    capsys: pytest.CaptureFixture[str], make_sqlite_settings: SettingsFactory
) -> None:
    async with serving(create_app(make_sqlite_settings(log_format="auto"))) as client:
        capsys.readouterr()
        await client.get("/health")
    err = capsys.readouterr().err
    assert "request" in err
    assert "route=/health" in err
    assert not json_lines(err)


async def test_slow_requests_are_warnings(
    capsys: pytest.CaptureFixture[str], make_sqlite_settings: SettingsFactory
) -> None:
    settings = make_sqlite_settings(log_format="json", http={"slow_request_seconds": 0.000001})
    async with serving(create_app(settings)) as client:
        capsys.readouterr()
        await client.get("/health")
    [line] = [r for r in json_lines(capsys.readouterr().err) if r.get("route") == "/health"]
    assert line["event"] == "slow_request"
    assert line["level"] == "warning"


def test_secret_keys_are_redacted(
    capsys: pytest.CaptureFixture[str], make_sqlite_settings: SettingsFactory
) -> None:
    create_app(make_sqlite_settings(log_format="json"))
    structlog.get_logger("test").info(
        "login",
        username="ada",
        password="hunter2-correct-horse",
        refresh_token="rt-secret",
        nested={"api_key": "pl_secret", "ok": 1},
    )
    [record] = [r for r in json_lines(capsys.readouterr().err) if r["event"] == "login"]
    assert record["password"] == REDACTED
    assert record["refresh_token"] == REDACTED
    assert record["nested"] == {"api_key": REDACTED, "ok": 1}
    assert record["username"] == "ada"
