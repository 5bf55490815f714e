"""Native JSON ingest: per-item results, idempotency, limits, cost, privacy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


async def test_mixed_batch_stores_valid_items_and_explains_rejections(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now()
    batch = [
        event(1, now - timedelta(hours=2)),
        event(2, now - timedelta(hours=2), input_tokens=-5),
        event(3, now - timedelta(hours=1), surprise="field"),
        event(4, now + timedelta(days=2)),
        {"event_id": "evt-5"},
        "not an object",
        event(6, now - timedelta(hours=1), lines_suggested=3, lines_accepted=9),
        event(7, now - timedelta(minutes=5), accepted=True),
    ]
    response = await harness.client.post(
        f"{project.base}/ingest/events", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {"received": 8, "accepted": 2, "duplicate": 0, "rejected": 6}
    reasons = {r["index"]: r["reason"] for r in body["results"] if r["status"] == "rejected"}
    assert "input_tokens" in reasons[1]
    assert "surprise: unknown field" in reasons[2]
    assert "future" in reasons[3]
    assert "started_at" in reasons[4]
    assert "object" in reasons[5]
    assert "lines_accepted exceeds" in reasons[6]
    stored = await harness.sql("SELECT event_id FROM events ORDER BY event_id")
    assert stored == [("evt-1",), ("evt-7",)]


async def test_retries_never_duplicate(harness: Harness, project: AnalyticsProject) -> None:
    now = harness.clock.now()
    batch = [event(i, now - timedelta(minutes=i)) for i in range(1, 6)]
    url = f"{project.base}/ingest/events"
    headers = {"X-API-Key": project.ingest_key}
    first = (await harness.client.post(url, json={"events": batch}, headers=headers)).json()
    rollups_before = await harness.sql("SELECT * FROM rollups_daily ORDER BY model")
    sessions_before = await harness.sql("SELECT * FROM llm_sessions ORDER BY session_id")
    second = (await harness.client.post(url, json={"events": batch}, headers=headers)).json()
    assert first["summary"]["accepted"] == 5
    assert second["summary"] == {"received": 5, "accepted": 0, "duplicate": 5, "rejected": 0}
    assert await harness.sql("SELECT count(*) FROM events") == [(5,)]
    assert await harness.sql("SELECT * FROM rollups_daily ORDER BY model") == rollups_before
    assert await harness.sql("SELECT * FROM llm_sessions ORDER BY session_id") == sessions_before
    within = await harness.client.post(url, json=[batch[0], batch[0]], headers=headers)
    assert [r["status"] for r in within.json()["results"]] == ["duplicate", "duplicate"]


async def test_rollups_and_sessions_follow_ingest(
    harness: Harness, project: AnalyticsProject
) -> None:
    day = harness.clock.now().replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    batch = [
        event(0, day, accepted=True, latency_ms=120, cost_usd=0.5, session_id="s1"),
        event(
            1,
            day + timedelta(minutes=10),
            accepted=False,
            latency_ms=900,
            cost_usd=0.25,
            session_id="s1",
            status="error",
            error_type="RateLimitError",
        ),
        event(
            2,
            day + timedelta(hours=1),
            latency_ms=2500,
            cost_usd=0.25,
            session_id="s2",
            response_model="claude-sonnet-4",
            developer_id="dev-b",
        ),
    ]
    await harness.client.post(
        f"{project.base}/ingest/events", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    daily = await harness.sql(
        "SELECT developer_id, model, events, errors, accepted, rejected, cost_usd, latency_count "
        "FROM rollups_daily ORDER BY developer_id"
    )
    assert [tuple(row[:6]) for row in daily] == [
        ("dev-a", "gpt-4o", 2, 1, 1, 1),
        ("dev-b", "claude-sonnet-4", 1, 0, 0, 0),
    ]
    assert float(daily[0][6]) == pytest.approx(0.75)
    hourly = await harness.sql("SELECT count(*), sum(events) FROM rollups_hourly")
    assert hourly == [(2, 3)]
    sessions = await harness.sql(
        "SELECT session_id, events, errors FROM llm_sessions ORDER BY session_id"
    )
    assert sessions == [("s1", 2, 1), ("s2", 1, 0)]


async def test_batch_limits_store_nothing(harness: Harness, project: AnalyticsProject) -> None:
    now = harness.clock.now()
    url = f"{project.base}/ingest/events"
    headers = {"X-API-Key": project.ingest_key}
    too_many = [event(i, now - timedelta(seconds=i)) for i in range(1001)]
    response = await harness.client.post(url, json=too_many, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "ingest.batch_too_large"
    broken = await harness.client.post(
        url, content=b'[{"event_id": "x",', headers={**headers, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "request.malformed_json"
    huge = b'[{"event_id": "' + b"x" * (11 * 1024 * 1024) + b'"}]'
    too_big = await harness.client.post(
        url, content=huge, headers={**headers, "content-type": "application/json"}
    )
    assert too_big.status_code == 413
    assert await harness.sql("SELECT count(*) FROM events") == [(0,)]


async def test_ndjson_and_single_object(harness: Harness, project: AnalyticsProject) -> None:
    now = harness.clock.now()
    import json

    lines = "\n".join(json.dumps(event(i, now - timedelta(minutes=i))) for i in range(3))
    headers = {"X-API-Key": project.ingest_key, "content-type": "application/x-ndjson"}
    ndjson = await harness.client.post(
        f"{project.base}/ingest/events", content=lines, headers=headers
    )
    assert ndjson.json()["summary"]["accepted"] == 3
    single = await harness.client.post(
        "/api/v1/ingest/events", json=event(9, now), headers={"X-API-Key": project.ingest_key}
    )
    assert single.json()["summary"]["accepted"] == 1


async def test_s35_read_key_cannot_ingest(harness: Harness, project: AnalyticsProject) -> None:
    batch = [event(1, harness.clock.now())]
    for url in (f"{project.base}/ingest/events", "/api/v1/ingest/events"):
        response = await harness.client.post(
            url, json=batch, headers={"X-API-Key": project.read_key}
        )
        assert response.status_code == 403
        assert response.json()["code"] == "api_keys.scope_missing"
    viewer_free = await harness.client.post(f"{project.base}/ingest/events", json=batch)
    assert viewer_free.status_code == 401
    assert await harness.sql("SELECT count(*) FROM events") == [(0,)]


async def test_cost_reported_or_estimated(harness: Harness, project: AnalyticsProject) -> None:
    now = harness.clock.now()
    batch = [
        event(1, now, cost_usd=0.123),
        event(
            2,
            now,
            input_tokens=1_000_000,
            output_tokens=100_000,
            response_model="gpt-4o-2024-08-06",
        ),
        # A proxy's alias as the response model: priced by the request model.
        event(3, now, input_tokens=1_000_000, output_tokens=0, response_model="team-default"),
        event(4, now, request_model="homegrown-llm", response_model="homegrown-llm-v2"),
    ]
    await harness.client.post(
        f"{project.base}/ingest/events", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    rows = await harness.sql("SELECT event_id, cost_usd, cost_source FROM events ORDER BY event_id")
    costs = {row[0]: (None if row[1] is None else float(row[1]), row[2]) for row in rows}
    assert costs["evt-1"] == pytest.approx((0.123, "reported"))
    assert costs["evt-2"] == pytest.approx((2.50 + 1.00, "estimated"))  # $2.50/M in, $10/M out
    assert costs["evt-3"] == pytest.approx((2.50, "estimated"))  # as gpt-4o
    assert costs["evt-4"] == (None, None)  # neither model known: no guess


async def test_conversation_text_is_never_stored(
    harness: Harness, project: AnalyticsProject
) -> None:
    item = event(
        1,
        harness.clock.now(),
        attributes={
            "prompt": "secret plan",
            "team": "core",
            "nested": {"messages": ["hi"], "k": 1},
        },
    )
    await harness.client.post(
        f"{project.base}/ingest/events", json=[item], headers={"X-API-Key": project.ingest_key}
    )
    [(attributes,)] = await harness.sql("SELECT attributes FROM events")
    assert "secret plan" not in str(attributes)
    assert "team" in str(attributes)
    assert "messages" not in str(attributes)


async def test_event_id_derived_when_missing(harness: Harness, project: AnalyticsProject) -> None:
    item = event(1, harness.clock.now())
    del item["event_id"]
    url = f"{project.base}/ingest/events"
    headers = {"X-API-Key": project.ingest_key}
    first = (await harness.client.post(url, json=[item], headers=headers)).json()
    again = (await harness.client.post(url, json=[item], headers=headers)).json()
    assert first["results"][0]["event_id"].startswith("h-")
    assert again["results"][0] == {
        **first["results"][0],
        "status": "duplicate",
        "reason": "already ingested",
    }
