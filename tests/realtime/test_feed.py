"""The live feed as a client sees it: subscribe, change data over HTTP, receive updates."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.integrations.helpers import commit, deliver, github_project, push_payload
from tests.realtime.conftest import Live, receive, send, subscribed


async def ingest(live: Live, project: AnalyticsProject, first: int, count: int) -> None:
    at = live.clock.now() - timedelta(hours=1)
    response = await live.client.post(
        f"{project.base}/ingest/events",
        json=[event(n, at + timedelta(seconds=n)) for n in range(first, first + count)],
        headers={"X-API-Key": project.ingest_key},
    )
    assert response.status_code == 200, response.text


async def test_subscriber_receives_events_session_and_kpis(live: Live) -> None:
    project = await analytics_project(live)
    async with live.connect(project.owner.access_token) as ws:
        await subscribed(ws, project.project_id)
        await ingest(live, project, 0, 3)
        events = await receive(ws, "events")
        assert events["data"] == {
            "project_id": project.project_id,
            "source": "native",
            "received": 3,
            "accepted": 3,
            "duplicate": 0,
            "rejected": 0,
            "errors": 0,
            "total_tokens": 3 * 1200,
            "cost_usd": events["data"]["cost_usd"],
            "developers": 1,
        }
        assert events["data"]["cost_usd"] > 0
        assert events["channel"] == f"project:{project.project_id}"
        session = await receive(ws, "session")
        assert (session["data"]["session_id"], session["data"]["events"]) == ("s-0", 3)
        listed = await live.client.get(f"{project.base}/sessions", headers=project.owner.headers)
        assert session["data"] == listed.json()["items"][0]
        kpis = await receive(ws, "kpis")
        assert kpis["seq"] > session["seq"] > events["seq"]
        rest = await live.client.get(f"{project.base}/metrics", headers=project.owner.headers)
        assert kpis["data"] == rest.json()


async def test_no_prompt_text_reaches_the_feed(live: Live) -> None:
    project = await analytics_project(live)
    secret = "SECRET-PROMPT-TEXT"
    async with live.connect(project.owner.access_token) as ws:
        await subscribed(ws, project.project_id)
        at = live.clock.now() - timedelta(hours=1)
        item = event(1, at, attributes={"prompt": secret}, tags=["x"])
        await live.client.post(
            f"{project.base}/ingest/events", json=[item], headers={"X-API-Key": project.ingest_key}
        )
        seen = [
            await receive(ws, "events"),
            await receive(ws, "session"),
            await receive(ws, "kpis"),
        ]
    assert all(secret not in str(message) for message in seen)


async def test_sequence_numbers_have_no_gaps_and_kpis_are_debounced(live: Live) -> None:
    project = await analytics_project(live)
    batches = 8
    async with live.connect(project.owner.access_token) as ws:
        await subscribed(ws, project.project_id)
        started = time.monotonic()
        for number in range(batches):
            await ingest(live, project, number * 10, 10)
        received: list[dict[str, Any]] = []
        while True:
            message = await receive(ws, "events", "session", "kpis")
            received.append(message)
            if message["type"] == "kpis" and calls_in(message) == batches * 10:
                break
        elapsed = time.monotonic() - started
    seqs = [message["seq"] for message in received]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert sum(message["type"] == "events" for message in received) == batches
    kpi_messages = sum(message["type"] == "kpis" for message in received)
    # At most one per second (the default interval), plus the first one, at once.
    assert 1 <= kpi_messages <= int(elapsed) + 1


def calls_in(kpis: dict[str, Any]) -> int:
    """The calls a `kpis` message counts (the error rate's sample is every call)."""
    error_rate = next(kpi for kpi in kpis["data"]["kpis"] if kpi["name"] == "error_rate")
    return int(error_rate["sample_size"])


async def test_unsubscribed_socket_gets_no_more_data(live: Live) -> None:
    project = await analytics_project(live)
    async with (
        live.connect(project.owner.access_token) as leaving,
        live.connect(project.owner.access_token) as staying,
    ):
        await subscribed(leaving, project.project_id)
        await subscribed(staying, project.project_id)
        await send(leaving, type="unsubscribe", project="copilot-pilot", ref="bye")
        answer = await receive(leaving, "unsubscribed")
        assert (answer["ref"], answer["reason"]) == ("bye", "requested")
        await ingest(live, project, 0, 2)
        await receive(staying, "kpis")  # everything of the batch has been delivered by now
        await send(leaving, type="ping", ref="after")
        after = await receive(leaving, "events", "session", "kpis", "pong")
        assert after == {**after, "type": "pong", "ref": "after"}


async def test_rolled_back_batch_publishes_nothing(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = await analytics_project(live)
    commit_for_real = AsyncSession.commit

    async def failing_commit(self: AsyncSession) -> None:
        if self.info.get("after_commit"):  # the request that queued a publication
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        await commit_for_real(self)

    async with live.connect(project.owner.access_token) as ws:
        await subscribed(ws, project.project_id)
        monkeypatch.setattr(AsyncSession, "commit", failing_commit)
        at = live.clock.now() - timedelta(hours=1)
        failed = await live.client.post(
            f"{project.base}/ingest/events",
            json=[event(n, at) for n in range(5)],
            headers={"X-API-Key": project.ingest_key},
        )
        assert failed.status_code >= 500
        monkeypatch.setattr(AsyncSession, "commit", commit_for_real)
        await ingest(live, project, 100, 2)
        first = await receive(ws, "events")
    assert first["data"]["received"] == 2  # the rolled-back batch of 5 never appeared


async def test_work_items_and_webhooks_refresh_kpis(live: Live) -> None:
    gh = await github_project(live, repos=["acme/web"])
    async with live.connect(gh.owner.access_token) as ws:
        await subscribed(ws, gh.project_id)
        created = await live.client.post(
            f"/api/v1/projects/{gh.project_id}/items",
            json={"title": "Ship it", "status": "done"},
            headers=gh.owner.headers,
        )
        assert created.status_code == 201, created.text
        assert (await receive(ws, "kpis"))["data"]["project_id"] == gh.project_id
        pushed = await deliver(
            live,
            "push",
            push_payload("acme/web", [commit("a" * 40, "feat: x", live.clock.now())]),
            secret=gh.secret,
        )
        assert pushed.status_code == 200, pushed.text
        kpis = await receive(ws, "kpis")
    assert kpis["data"]["project_id"] == gh.project_id


async def test_feed_metrics(live: Live) -> None:
    project = await analytics_project(live)

    async def sample(name: str, **labels: str) -> float:
        body = (await live.client.get("/metrics")).text
        for family in text_string_to_metric_families(body):
            for item in family.samples:
                if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                    return float(item.value)
        return 0.0

    sent_before = await sample("prodlens_ws_messages_sent_total", type="events")
    open_before = await sample("prodlens_ws_connections")
    async with live.connect(project.owner.access_token) as ws:
        await subscribed(ws, project.project_id)
        assert await sample("prodlens_ws_connections") == open_before + 1
        await ingest(live, project, 0, 1)
        await receive(ws, "events")
        await receive(ws, "kpis")
        assert await sample("prodlens_ws_messages_sent_total", type="events") == sent_before + 1
        assert await sample("prodlens_ws_publish_to_send_seconds_count") >= 2
