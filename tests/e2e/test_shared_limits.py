"""Two server processes sharing one Redis enforce one limit together."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_REDIS_URL, require_service
from tests.e2e.server import HTTP_TIMEOUT_S, running_server

pytestmark = pytest.mark.e2e


def test_two_workers_share_the_login_limit(tmp_path: Path) -> None:
    redis_url = require_service("PRODLENS_TEST_REDIS_URL", TEST_REDIS_URL)
    env = {
        "REDIS_URL": redis_url,
        "PRODLENS_REDIS__KEY_PREFIX": f"e2e-{uuid.uuid4().hex}:",
        # The default's 10, per day: a minute window's boundary crossed mid-test would
        # forgive a hit (the sliding window rounds the previous window's weight down).
        "PRODLENS_RATE_LIMITS__LOGIN_IP": "10/day",
    }
    # The first server migrates the shared SQLite file; the second starts once it is ready.
    with (
        running_server(tmp_path, env=env) as first,
        running_server(tmp_path, "--no-migrate", env=env) as second,
    ):
        statuses = []
        for attempt in range(10):
            server = first if attempt % 2 else second
            response = httpx.post(
                f"{server.base_url}/api/v1/auth/login",
                json={"username": f"nobody{attempt}", "password": "wrong-password"},
                timeout=HTTP_TIMEOUT_S,
            )
            statuses.append(response.status_code)
        eleventh = [
            httpx.post(
                f"{server.base_url}/api/v1/auth/login",
                json={"username": "nobody-else", "password": "wrong-password"},
                timeout=HTTP_TIMEOUT_S,
            )
            for server in (first, second)
        ]
        codes = [first.stop()[0], second.stop()[0]]

    assert statuses == [401] * 10
    assert [response.status_code for response in eleventh] == [429, 429]
    assert eleventh[0].json()["code"] == "rate_limit.exceeded"
    assert codes == [0, 0]
