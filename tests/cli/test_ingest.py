"""`prodlens ingest FILE --project P`: JSONL in any supported format, through the same ingest."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prodlens.app import create_app
from prodlens.cli.main import cli
from prodlens.config import Settings
from tests.conftest import serving
from tests.harness import PASSWORD

runner = CliRunner()


@pytest.fixture
def workdir(workdir: Path) -> Path:
    """The working directory, its database migrated, with a project `pilot` in it."""
    url = f"sqlite+aiosqlite:///{workdir}/var/cli.db"
    assert runner.invoke(cli, ["migrate"]).exit_code == 0

    async def make_project() -> None:
        async with serving(create_app(Settings(_env_file=None, database_url=url))) as client:
            await client.post(
                "/api/v1/auth/register",
                json={
                    "email": "lead@example.com",
                    "username": "lead",
                    "password": PASSWORD,
                    "display_name": "Lead",
                },
            )
            login = await client.post(
                "/api/v1/auth/login", json={"username": "lead", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            created = await client.post(
                "/api/v1/projects", json={"name": "Pilot", "slug": "pilot"}, headers=headers
            )
            assert created.status_code == 201, created.text

    asyncio.run(make_project())
    return workdir


def rows(workdir: Path, query: str) -> list[Any]:
    with closing(sqlite3.connect(workdir / "var" / "cli.db")) as connection:
        return connection.execute(query).fetchall()


def counts(output: str) -> list[int]:
    """The summary table's numbers: accepted, duplicate, rejected."""
    table = output.split("Ingested", 1)[1].split("rejected line", 1)[0]
    return [int(cell) for cell in table.split() if cell.isdigit()]


def native(number: int, at: datetime) -> dict[str, Any]:
    return {
        "event_id": f"evt-{number}",
        "started_at": at.isoformat(),
        "request_model": "gpt-4o",
        "input_tokens": 100,
        "output_tokens": 10,
    }


def otlp_line(at: datetime) -> dict[str, Any]:
    def span(span_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        start = int(at.timestamp() * 1e9)
        return {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": span_id,
            "name": "op",
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + 400_000_000),
            "attributes": [
                {"key": k, "value": {"intValue": v} if isinstance(v, int) else {"stringValue": v}}
                for k, v in attributes.items()
            ],
        }

    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "spans": [
                            span("aaaaaaaaaaaaaaa1", {**chat, "gen_ai.usage.input_tokens": 50}),
                            span("aaaaaaaaaaaaaaa2", {**chat, "gen_ai.usage.output_tokens": 5}),
                            span("aaaaaaaaaaaaaaa3", {"http.route": "/health"}),
                        ]
                    }
                ],
            }
        ]
    }


def test_mixed_formats_load_and_report_per_line(workdir: Path) -> None:
    at = datetime.now(UTC) - timedelta(hours=2)
    litellm = {
        "id": "litellm-1",
        "call_type": "acompletion",
        "startTime": at.timestamp(),
        "endTime": at.timestamp() + 1,
        "model": "claude-sonnet-4",
        "prompt_tokens": 300,
        "completion_tokens": 30,
        "response_cost": 0.002,
        "status": "success",
    }
    broken_native = {**native(9, at), "input_tokens": -1}
    lines = [
        json.dumps(native(1, at)),
        json.dumps(litellm),
        "",
        json.dumps(otlp_line(at)),
        '{"event_id": "cut-off',
        json.dumps(broken_native),
    ]
    path = workdir / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = runner.invoke(cli, ["ingest", str(path), "--project", "pilot"])
    assert result.exit_code == 0, result.output
    assert counts(result.output) == [4, 0, 2]  # accepted, duplicate, rejected
    assert "line 5: not valid JSON" in result.output
    assert "line 6 (evt-9): input_tokens" in result.output
    stored = rows(workdir, "SELECT event_id, source, input_tokens FROM events ORDER BY event_id")
    assert stored == [
        ("aaaaaaaaaaaaaaa1", "jsonl", 50),
        ("aaaaaaaaaaaaaaa2", "jsonl", 0),
        ("evt-1", "jsonl", 100),
        ("litellm-1", "jsonl", 300),
    ]
    [(cost,)] = rows(workdir, "SELECT cost_usd FROM events WHERE event_id = 'litellm-1'")
    assert float(cost) == pytest.approx(0.002)

    again = runner.invoke(cli, ["ingest", str(path), "--project", "pilot"])
    assert again.exit_code == 0, again.output
    assert rows(workdir, "SELECT count(*) FROM events") == [(4,)]
    assert counts(again.output) == [0, 4, 2]


def test_large_files_go_in_batches(workdir: Path) -> None:
    at = datetime.now(UTC) - timedelta(days=1)
    path = workdir / "big.jsonl"
    path.write_text(
        "\n".join(json.dumps(native(i, at + timedelta(seconds=i))) for i in range(2500))
    )
    result = runner.invoke(cli, ["ingest", str(path), "-p", "pilot"])
    assert result.exit_code == 0, result.output
    assert rows(workdir, "SELECT count(*), sum(input_tokens) FROM events") == [(2500, 250_000)]
    assert rows(workdir, "SELECT sum(events) FROM rollups_daily") == [(2500,)]


def test_unknown_project_or_file_fails(workdir: Path) -> None:
    path = workdir / "one.jsonl"
    path.write_text(json.dumps(native(1, datetime.now(UTC))) + "\n")
    unknown = runner.invoke(cli, ["ingest", str(path), "--project", "nope"])
    assert unknown.exit_code == 1
    assert "No project with id or slug 'nope'" in unknown.output
    missing = runner.invoke(cli, ["ingest", str(workdir / "absent.jsonl"), "--project", "pilot"])
    assert missing.exit_code != 0
    assert rows(workdir, "SELECT count(*) FROM events") == [(0,)]


def test_fail_on_rejected_turns_a_rejected_line_into_exit_1(workdir: Path) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    mixed = workdir / "mixed.jsonl"
    mixed.write_text(json.dumps(native(1, at)) + "\nnot json\n")
    clean = workdir / "clean.jsonl"
    clean.write_text(json.dumps(native(2, at)) + "\n")

    tolerant = runner.invoke(cli, ["ingest", str(mixed), "-p", "pilot"])
    assert tolerant.exit_code == 0, tolerant.output  # without the flag: as before
    assert counts(tolerant.output) == [1, 0, 1]
    strict = runner.invoke(cli, ["ingest", str(mixed), "-p", "pilot", "--fail-on-rejected"])
    assert strict.exit_code == 1, strict.output
    assert counts(strict.output) == [0, 1, 1]  # the summary is printed all the same
    assert "line 2: not valid JSON" in strict.output
    fine = runner.invoke(cli, ["ingest", str(clean), "-p", "pilot", "--fail-on-rejected"])
    assert fine.exit_code == 0, fine.output
    assert rows(workdir, "SELECT count(*) FROM events") == [(2,)]
