"""SIGKILL mid-ingest loses no event that was answered 2xx."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import HTTP_TIMEOUT_S, STOP_DEADLINE_S, Server, running_server
from tests.harness import PASSWORD

pytestmark = pytest.mark.e2e

BATCH = 100
LOADED = 5  # batches acknowledged before the kill


def _ingest_key(server: Server) -> str:
    with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT_S) as client:
        client.post(
            "/api/v1/auth/register",
            json={
                "email": "ops@example.com",
                "username": "ops",
                "password": PASSWORD,
                "display_name": "Ops",
            },
        ).raise_for_status()
        token = client.post(
            "/api/v1/auth/login", json={"username": "ops", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        project = client.post("/api/v1/projects", json={"name": "Durable"}, headers=headers).json()
        key = client.post(
            f"/api/v1/projects/{project['id']}/api-keys",
            json={"name": "load", "scopes": ["ingest"]},
            headers=headers,
        ).json()
    return str(key["key"])


def _send_batches(
    server: Server, key: str, worker: int, acknowledged: list[str], stop: threading.Event
) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT_S) as client:
        for batch_number in range(10_000):
            if stop.is_set():
                return
            ids = [f"w{worker}-b{batch_number}-e{i}" for i in range(BATCH)]
            events = [
                {
                    "event_id": event_id,
                    "started_at": (start + timedelta(seconds=n)).isoformat(),
                    "developer_id": f"dev-{worker}",
                    "response_model": "gpt-4o",
                    "input_tokens": 10,
                    "output_tokens": 5,
                }
                for n, event_id in enumerate(ids)
            ]
            try:
                response = client.post(
                    "/api/v1/ingest/events", json=events, headers={"X-API-Key": key}
                )
            except httpx.TransportError:
                return  # the server died under us: this batch was never acknowledged
            if response.status_code == 200:
                acknowledged.extend(ids)


def test_sigkill_mid_ingest_loses_no_acknowledged_event(tmp_path: Path) -> None:
    env = {"PRODLENS_RATE_LIMITS__ENABLED": "false"}
    acknowledged: list[str] = []
    with running_server(tmp_path, env=env) as server:
        key = _ingest_key(server)
        stop = threading.Event()
        workers = [
            threading.Thread(target=_send_batches, args=(server, key, n, acknowledged, stop))
            for n in range(4)
        ]
        for worker in workers:
            worker.start()
        # Kill once the load is going, however long that takes here: batches keep coming.
        server.wait_until(lambda: len(acknowledged) >= LOADED * BATCH, "taking the load")
        server.process.kill()  # SIGKILL: no graceful shutdown, requests in flight
        server.process.wait(timeout=STOP_DEADLINE_S)
        stop.set()
        for worker in workers:
            worker.join(timeout=HTTP_TIMEOUT_S)

    database = sqlite3.connect(tmp_path / "var" / "e2e.db")
    stored = {row[0] for row in database.execute("SELECT event_id FROM events")}
    database.close()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
