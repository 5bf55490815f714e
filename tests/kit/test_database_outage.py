"""PostgreSQL stops or becomes unreachable under load: 503 + Retry-After within 5 s, a
couple of log lines per outage, and recovery without a restart within 5 s."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url

from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.conftest import SettingsFactory, Stack, harness_for
from tests.harness import Harness
from tests.tcp_proxy import TcpProxy

ANSWER_DEADLINE = 5.0
RECOVERY_DEADLINE = 5.0
CLIENTS = 8
PACE_SECONDS = 0.02


@dataclass
class Outcome:
    started: float
    elapsed: float
    status: int
    retry_after: str | None
    code: str | None


async def _request(h: Harness, project: AnalyticsProject, number: int) -> Outcome:
    started = time.monotonic()
    if number % 2:
        response = await h.client.get("/api/v1/projects", headers=project.owner.headers)
    else:
        at = event(number, datetime.now(UTC))
        response = await h.client.post(
            f"{project.base}/ingest/events",
            json=[at],
            headers={"X-API-Key": project.ingest_key},
        )
    code = None
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        code = response.json().get("code")
    return Outcome(
        started,
        time.monotonic() - started,
        response.status_code,
        response.headers.get("retry-after"),
        code,
    )


async def _load(
    h: Harness, project: AnalyticsProject, stop: asyncio.Event, out: list[Outcome]
) -> None:
    number = 0
    while not stop.is_set():
        number += 1
        out.append(await _request(h, project, number))
        # Paced: clients, proxy and server share this one event loop, and a flood of
        # instant 503s would starve the proxy the recovery has to pass through.
        await asyncio.sleep(PACE_SECONDS)


@pytest.mark.parametrize("failure", ["stopped", "unreachable"])
async def test_postgres_failure_under_load(
    failure: str,
    capsys: pytest.CaptureFixture[str],  # first: the app's log handler binds the captured stderr
    postgres_stack: Stack,
    make_sqlite_settings: SettingsFactory,
) -> None:
    url = make_url(postgres_stack.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = make_sqlite_settings(
        database_url=proxied,
        redis_url=postgres_stack.redis_url,
        log_format="json",
        rate_limits={"enabled": False},
    )
    async with harness_for(settings) as h:
        project = await analytics_project(h)
        capsys.readouterr()
        stop = asyncio.Event()
        during: list[Outcome] = []
        workers = [asyncio.create_task(_load(h, project, stop, during)) for _ in range(CLIENTS)]
        await asyncio.sleep(0.3)  # load running against a healthy database

        cut = time.monotonic()
        if failure == "stopped":
            await proxy.stop()
        else:
            proxy.freeze()
        await asyncio.sleep(ANSWER_DEADLINE + 2)  # long enough for any timeout to show
        ready = await h.client.get("/health/ready")

        restored = time.monotonic()
        if failure == "stopped":
            await proxy.start()  # same port again
        else:
            proxy.thaw()
        deadline = restored + RECOVERY_DEADLINE
        while time.monotonic() < deadline:
            if any(o.status == 200 and o.started > restored for o in during):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
        recovered = await h.client.get("/health/ready")
    await proxy.stop()
    logs = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]

    in_outage = [o for o in during if o.started > cut + 0.1 and o.started + o.elapsed < restored]
    assert len(in_outage) > 50, "the load kept running through the outage"
    slow = [o for o in during if o.started >= cut and o.elapsed > ANSWER_DEADLINE]
    assert not slow, f"{len(slow)} requests took longer than {ANSWER_DEADLINE} s"
    assert {o.status for o in in_outage} == {503}
    assert {o.code for o in in_outage} == {"service.unavailable"}
    assert all(o.retry_after is not None and int(o.retry_after) > 0 for o in in_outage)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "failing"

    back = [o for o in during if o.status == 200 and o.started > restored]
    assert back, f"no request succeeded within {RECOVERY_DEADLINE} s of the database's return"
    assert recovered.status_code == 200

    events = [record["event"] for record in logs]
    assert "unhandled_error" not in events
    assert events.count("database_unavailable") == 1
    assert events.count("database_recovered") == 1
    noisy = [
        r
        for r in logs
        if r["level"] in ("warning", "error") and r["event"] not in ("request", "slow_request")
    ]
    assert len(noisy) <= 5, [r["event"] for r in noisy]
