"""Sessions: filtered, sorted lists with page and cursor paging; one session's events."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.analytics.helpers import AnalyticsProject, analytics_project, event, ingest_all
from tests.harness import Harness


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


async def sessions(harness: Harness, project: AnalyticsProject, **params: Any) -> dict[str, Any]:
    response = await harness.client.get(
        f"{project.base}/sessions", params=params, headers=project.owner.headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ids(body: dict[str, Any]) -> list[str]:
    return [item["session_id"] for item in body["items"]]


@pytest.fixture
async def varied(harness: Harness, project: AnalyticsProject) -> datetime:
    """Four sessions, one hour apart (s-old first), that differ on every filter and sort."""
    base = harness.clock.now().replace(microsecond=0) - timedelta(hours=6)
    await ingest_all(
        harness,
        project,
        [
            # s-old: dev-a, gpt-4o, accepted, cheap, slow
            event(1, base, session_id="s-old", cost_usd=0.10, latency_ms=3000, accepted=True),
            # s-mixed: dev-a, gpt-4o then claude, an error, none accepted
            event(2, base + timedelta(hours=1), session_id="s-mixed", cost_usd=0.30,
                  latency_ms=100, accepted=False),
            event(3, base + timedelta(hours=1, minutes=2), session_id="s-mixed",
                  response_model="claude-sonnet-4", cost_usd=0.30, latency_ms=300,
                  status="error", error_type="RateLimitError"),
            # s-big: dev-b, most tokens, most expensive
            event(4, base + timedelta(hours=2), session_id="s-big", developer_id="dev-b",
                  cost_usd=2.00, latency_ms=1000, input_tokens=50_000, output_tokens=1_000),
            # s-new: dev-b, accepted, unknown latency
            event(5, base + timedelta(hours=3), session_id="s-new", developer_id="dev-b",
                  cost_usd=0.05, latency_ms=500, accepted=True, input_tokens=10,
                  output_tokens=5),
        ],
    )  # fmt: skip
    return base


async def test_filters_pick_the_matching_sessions(
    harness: Harness, project: AnalyticsProject, varied: datetime
) -> None:
    everything = await sessions(harness, project)
    assert ids(everything) == ["s-new", "s-big", "s-mixed", "s-old"]  # newest first
    mixed = next(item for item in everything["items"] if item["session_id"] == "s-mixed")
    assert mixed["events"] == 2
    assert mixed["errors"] == 1
    assert mixed["status"] == "error"
    assert mixed["models"] == ["claude-sonnet-4", "gpt-4o"]
    assert mixed["cost_usd"] == pytest.approx(0.60)
    assert mixed["latency_ms_avg"] == pytest.approx(200)
    assert mixed["duration_ms"] == pytest.approx(120_800)

    assert ids(await sessions(harness, project, developer="dev-b")) == ["s-new", "s-big"]
    assert ids(await sessions(harness, project, model="claude-sonnet-4")) == ["s-mixed"]
    assert ids(await sessions(harness, project, model="gpt-4o")) == [
        "s-new",
        "s-big",
        "s-mixed",
        "s-old",
    ]
    assert ids(await sessions(harness, project, accepted=True)) == ["s-new", "s-old"]
    assert ids(await sessions(harness, project, accepted=False)) == ["s-big", "s-mixed"]
    assert ids(await sessions(harness, project, status="error")) == ["s-mixed"]
    assert ids(await sessions(harness, project, status="ok")) == ["s-new", "s-big", "s-old"]
    window = {
        "since": (varied + timedelta(hours=1)).isoformat(),
        "until": (varied + timedelta(hours=3)).isoformat(),
    }
    assert ids(await sessions(harness, project, **window)) == ["s-big", "s-mixed"]
    combined = await sessions(harness, project, developer="dev-a", status="ok", accepted=True)
    assert ids(combined) == ["s-old"]


async def test_sorts_by_time_cost_tokens_and_latency(
    harness: Harness, project: AnalyticsProject, varied: datetime
) -> None:
    assert ids(await sessions(harness, project, sort="started_at")) == [
        "s-old",
        "s-mixed",
        "s-big",
        "s-new",
    ]
    assert ids(await sessions(harness, project, sort="-time")) == [
        "s-new",
        "s-big",
        "s-mixed",
        "s-old",
    ]
    assert ids(await sessions(harness, project, sort="-cost")) == [
        "s-big",
        "s-mixed",
        "s-old",
        "s-new",
    ]
    assert ids(await sessions(harness, project, sort="tokens")) == [
        "s-new",
        "s-old",
        "s-mixed",
        "s-big",
    ]
    assert ids(await sessions(harness, project, sort="-latency")) == [
        "s-old",
        "s-big",
        "s-new",
        "s-mixed",
    ]
    bad = await harness.client.get(
        f"{project.base}/sessions", params={"sort": "-prompt"}, headers=project.owner.headers
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "pagination.invalid_sort"
    # A read key is enough (ProjectReader).
    read = await harness.client.get(
        f"{project.base}/sessions", headers={"X-API-Key": project.read_key}
    )
    assert read.status_code == 200
    assert len(read.json()["items"]) == 4


async def walk(harness: Harness, project: AnalyticsProject, **params: Any) -> list[str]:
    """Every session id, following next_cursor from the first page."""
    body = await sessions(harness, project, **params)
    seen = ids(body)
    while body["next_cursor"] is not None:
        body = await sessions(harness, project, **{**params, "cursor": body["next_cursor"]})
        assert body["total"] is None  # cursor mode counts nothing
        seen += ids(body)
    return seen


async def test_page_and_cursor_paging_agree_and_survive_ties(
    harness: Harness, project: AnalyticsProject
) -> None:
    start = harness.clock.now().replace(microsecond=0) - timedelta(days=2)
    # 23 sessions; costs and start times repeat so that only the id breaks ties.
    batch = [
        event(
            number,
            start + timedelta(minutes=number // 4),
            session_id=f"tie-{number:02d}",
            cost_usd=[0.5, 0.25, 0.5][number % 3],
            input_tokens=100 * (number % 2),
            output_tokens=0,
        )
        for number in range(23)
    ]
    await ingest_all(harness, project, batch)
    for sort in ("-cost", "cost", "started_at", "-started_at", "tokens", "-latency"):
        paged: list[str] = []
        for page in (1, 2, 3, 4):
            body = await sessions(harness, project, sort=sort, page=page, page_size=7)
            assert body["total"] == 23
            assert body["pages"] == 4
            assert (body["next_cursor"] is None) == (page == 4)
            paged += ids(body)
        walked = await walk(harness, project, sort=sort, page_size=7)
        assert walked == paged, sort
        assert sorted(walked) == sorted(f"tie-{n:02d}" for n in range(23))

    # Keyset paging is stable while new sessions arrive ahead of the cursor.
    first = await sessions(harness, project, sort="-started_at", page_size=10)
    await ingest_all(harness, project, [event(99, harness.clock.now(), session_id="tie-late")])
    rest = await walk(
        harness, project, sort="-started_at", page_size=10, cursor=first["next_cursor"]
    )
    assert "tie-late" not in rest
    assert len(ids(first) + rest) == 23
    assert len(set(ids(first) + rest)) == 23


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def test_invalid_cursors_are_400_problems(
    harness: Harness, project: AnalyticsProject, varied: datetime
) -> None:
    issued = (await sessions(harness, project, sort="-cost", page_size=1))["next_cursor"]
    assert issued is not None
    bad = [  # (cursor, the sort it is sent with)
        ("not base64 at all!", "-cost"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), "-cost"),
        (_cursor(["a", "list"]), "-cost"),
        (_cursor({"s": "-cost", "k": "cheap", "i": 1}), "-cost"),
        (_cursor({"s": "-cost", "k": 1.0, "i": "1"}), "-cost"),
        (_cursor({"s": "-cost", "k": True, "i": 1}), "-cost"),
        (_cursor({"s": "-started_at", "k": "yesterday", "i": 1}), "-started_at"),
        (_cursor({"s": "-started_at", "k": "2026-01-01T00:00:00", "i": 1}), "-started_at"),
        (_cursor({"s": "tokens", "k": 1.5, "i": 1}), "tokens"),
        (_cursor({"s": "tokens", "k": 10**30, "i": 1}), "tokens"),
        (_cursor({"s": "-cost", "k": 1.0, "i": 10**30}), "-cost"),
        (_cursor({"s": "-started_at", "k": "0001-01-01T00:00:00+05:00", "i": 1}), "-started_at"),
        ("eyJzIjoiLWNvc3QiLCJrIjpOYU4sImkiOjF9", "-cost"),  # {"s":"-cost","k":NaN,"i":1}
    ]
    for cursor, sort in bad:
        response = await harness.client.get(
            f"{project.base}/sessions",
            params={"cursor": cursor, "sort": sort},
            headers=project.owner.headers,
        )
        assert response.status_code == 400, (cursor, response.text)
        assert response.json()["code"] == "sessions.invalid_cursor"
    # A cursor only continues the sort it was issued for.
    other = await harness.client.get(
        f"{project.base}/sessions",
        params={"cursor": issued, "sort": "tokens"},
        headers=project.owner.headers,
    )
    assert other.status_code == 400
    assert "sort" in other.json()["detail"]
    same = await sessions(harness, project, sort="-cost", page_size=1, cursor=issued)
    assert ids(same) == ["s-mixed"]
    for params in ({"since": "0001-01-01T00:00:00+05:00"}, {"until": "9999-12-31T23:59:59Z"}):
        window = await harness.client.get(
            f"{project.base}/sessions", params=params, headers=project.owner.headers
        )
        assert window.status_code == 422, window.text
        assert window.json()["code"] == "analytics.invalid_window"
    huge = await harness.client.get(
        f"{project.base}/sessions", params={"page_size": 1000}, headers=project.owner.headers
    )
    assert huge.status_code == 422


async def test_detail_has_the_events_and_stays_in_its_project(
    harness: Harness, project: AnalyticsProject, varied: datetime
) -> None:
    url = f"{project.base}/sessions/s-mixed"
    response = await harness.client.get(url, headers={"X-API-Key": project.read_key})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session_id"] == "s-mixed"
    assert body["events"] == 2
    assert body["events_truncated"] is False
    assert [e["event_id"] for e in body["event_list"]] == ["evt-2", "evt-3"]
    assert [e["response_model"] for e in body["event_list"]] == ["gpt-4o", "claude-sonnet-4"]
    assert body["event_list"][1]["status"] == "error"
    assert body["event_list"][1]["error_type"] == "RateLimitError"
    assert body["event_list"][0]["cost_usd"] == pytest.approx(0.30)
    assert "attributes" not in body["event_list"][0]

    missing = await harness.client.get(
        f"{project.base}/sessions/no-such", headers=project.owner.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "sessions.not_found"

    # The same owner's other project does not see this project's session.
    other = (
        await harness.client.post(
            "/api/v1/projects", json={"name": "Other"}, headers=project.owner.headers
        )
    ).json()
    across = await harness.client.get(
        f"/api/v1/projects/{other['id']}/sessions/s-mixed", headers=project.owner.headers
    )
    assert across.status_code == 404
    assert across.json()["code"] == "sessions.not_found"
    listed = await harness.client.get(
        f"/api/v1/projects/{other['id']}/sessions", headers=project.owner.headers
    )
    assert listed.json()["items"] == []
