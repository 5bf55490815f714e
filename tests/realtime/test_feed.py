"""The live feed as a client sees it: subscribe, ingest over HTTP, receive the updates."""

from __future__ import annotations

from datetime import timedelta

from tests.analytics.helpers import analytics_project, event
from tests.realtime.conftest import Live, receive, send


async def test_subscriber_receives_events_session_and_kpis(live: Live) -> None:
    project = await analytics_project(live)
    async with live.connect(project.owner.access_token) as ws:
        welcome = await receive(ws, "welcome")
        assert welcome["v"] == 1
        await send(ws, type="subscribe", project=project.project_id, ref=1)
        subscribed = await receive(ws, "subscribed", "error")
        assert subscribed["type"] == "subscribed", subscribed
        assert subscribed["ref"] == 1
        at = live.clock.now() - timedelta(hours=1)
        response = await live.client.post(
            f"{project.base}/ingest/events",
            json=[event(n, at + timedelta(seconds=n)) for n in range(3)],
            headers={"X-API-Key": project.ingest_key},
        )
        assert response.status_code == 200, response.text
        events = await receive(ws, "events")
        assert events["data"]["accepted"] == 3
        assert events["data"]["total_tokens"] == 3 * 1200
        session = await receive(ws, "session")
        assert session["data"]["session_id"] == "s-0"
        assert session["data"]["events"] == 3
        kpis = await receive(ws, "kpis")
        assert kpis["seq"] > session["seq"] > events["seq"]
        print(kpis["data"].keys())
