"""SPEC §1: `prodlens serve` on an empty database in development creates the demo; not
again once accounts exist, and never in production."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import HTTP_TIMEOUT_S, READY_DEADLINE_S, running_server

pytestmark = pytest.mark.e2e
DEMO_ON = {"PRODLENS_DEMO_ON_EMPTY": "true"}  # the default, which tests/e2e/server.py turns off
# Generating the demo comes before serving: a first start takes longer.
DEMO_READY_DEADLINE_S = 2 * READY_DEADLINE_S


def _events(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _count(workdir: Path, table: str) -> int:
    database = sqlite3.connect(workdir / "var" / "e2e.db")
    try:
        (count,) = database.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(count)
    finally:
        database.close()


def test_serve_creates_the_demo_on_an_empty_development_database(tmp_path: Path) -> None:
    with running_server(tmp_path, env=DEMO_ON, ready_deadline_s=DEMO_READY_DEADLINE_S) as server:
        projects = httpx.get(f"{server.base_url}/api/v1/projects", timeout=HTTP_TIMEOUT_S)
        assert projects.status_code == 401  # the demo is there, but only for its login
        code, stderr = server.stop()
    assert code == 0, stderr
    created = [e for e in _events(stderr) if e.get("event") == "demo_created"]
    assert len(created) == 1, stderr
    assert created[0]["username"] == "demo"
    assert created[0]["project"] == "demo"
    assert _count(tmp_path, "users") == 1
    assert _count(tmp_path, "events") > 1000
    assert _count(tmp_path, "rollups_daily") > 0
    assert _count(tmp_path, "commits") > 0

    # A second start: the database has an account, so nothing is generated again.
    with running_server(tmp_path, env=DEMO_ON, ready_deadline_s=DEMO_READY_DEADLINE_S) as server:
        code, stderr = server.stop()
    assert not [e for e in _events(stderr) if e.get("event") == "demo_created"]
    assert _count(tmp_path, "users") == 1


def test_serve_never_creates_the_demo_in_production(tmp_path: Path) -> None:
    env = {
        **DEMO_ON,
        "PRODLENS_ENV": "production",
        "PRODLENS_SECRET_KEY": "e2e-production-secret-" + "x" * 40,
        "PRODLENS_ALLOW_SQLITE_IN_PRODUCTION": "true",
    }
    with running_server(tmp_path, env=env) as server:
        code, stderr = server.stop()
    assert code == 0, stderr
    assert not [e for e in _events(stderr) if e.get("event") == "demo_created"]
    assert _count(tmp_path, "users") == 0
