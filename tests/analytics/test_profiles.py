"""Developers: the list with totals, and one developer's profile over a window."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


async def ingest(harness: Harness, project: AnalyticsProject, events: list[dict[str, Any]]) -> None:
    response = await harness.client.post(
        f"{project.base}/ingest/events", json=events, headers={"X-API-Key": project.ingest_key}
    )
    assert response.status_code == 200, response.text
    assert response.json()["summary"]["accepted"] == len(events), response.text


@pytest.fixture
async def week(harness: Harness, project: AnalyticsProject) -> datetime:
    """Usage over the last days: returns the midnight (UTC) four days ago."""
    today = harness.clock.now().date()
    day0 = datetime.combine(today - timedelta(days=4), time(), tzinfo=UTC)
    events = [
        # dev-a, day 0 at 09:00: two gpt-4o calls, one accepted, one rejected
        event(1, day0 + timedelta(hours=9), session_id="a1", cost_usd=1.0, accepted=True,
              lines_suggested=10, lines_accepted=8),
        event(2, day0 + timedelta(hours=9, minutes=5), session_id="a1", cost_usd=1.0,
              accepted=False, lines_suggested=4, lines_accepted=0),
        # dev-a, day 2 at 14:00: a claude call that failed, acceptance unknown
        event(3, day0 + timedelta(days=2, hours=14), session_id="a2", cost_usd=0.5,
              response_model="claude-sonnet-4", status="error", input_tokens=300,
              output_tokens=100),
        # dev-a, day 2 at 14:30: gpt-4o, accepted
        event(4, day0 + timedelta(days=2, hours=14, minutes=30), session_id="a2",
              cost_usd=0.5, accepted=True),
        # dev-b: one expensive call on day 1
        event(5, day0 + timedelta(days=1, hours=3), session_id="b1", developer_id="dev-b",
              cost_usd=7.0),
        # no developer: not a developer, not in the list
        event(6, day0 + timedelta(days=1), session_id="anon", developer_id=None, cost_usd=3.0),
        # dev-a, long before the window
        event(7, day0 - timedelta(days=60), session_id="a0", cost_usd=100.0),
    ]  # fmt: skip
    await ingest(harness, project, events)
    return day0


async def test_profile_totals_models_acceptance_trend_and_heatmap(
    harness: Harness, project: AnalyticsProject, week: datetime
) -> None:
    params = {"since": week.isoformat(), "until": (week + timedelta(days=5)).isoformat()}
    response = await harness.client.get(
        f"{project.base}/developers/dev-a", params=params, headers=project.owner.headers
    )
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["days"] == 5
    totals = profile["totals"]
    assert totals["events"] == 4
    assert totals["sessions"] == 2
    assert totals["errors"] == 1
    assert totals["error_rate"] == pytest.approx(0.25)
    assert totals["total_tokens"] == 3 * 1200 + 400
    assert totals["cost_usd"] == pytest.approx(3.0)

    acceptance = profile["acceptance"]
    assert (acceptance["accepted"], acceptance["rejected"]) == (2, 1)
    assert acceptance["rate"] == pytest.approx(2 / 3)  # the unknown one is left out
    assert (acceptance["lines_suggested"], acceptance["lines_accepted"]) == (14, 8)

    models = {m["model"]: m for m in profile["models"]}
    assert models["gpt-4o"]["events"] == 3
    assert models["gpt-4o"]["share"] == pytest.approx(0.75)
    assert models["claude-sonnet-4"]["share"] == pytest.approx(0.25)
    assert models["claude-sonnet-4"]["cost_usd"] == pytest.approx(0.5)
    assert profile["models"][0]["model"] == "gpt-4o"  # the most used first

    trend = profile["cost_trend"]
    assert [point["date"] for point in trend] == [
        (week.date() + timedelta(days=offset)).isoformat() for offset in range(5)
    ]
    assert [point["cost_usd"] for point in trend] == pytest.approx([2.0, 0, 1.0, 0, 0])
    assert [point["events"] for point in trend] == [2, 0, 2, 0, 0]

    heatmap = profile["heatmap"]
    assert heatmap["timezone"] == "UTC"
    counts = heatmap["counts"]
    assert len(counts) == 7
    assert all(len(row) == 24 for row in counts)
    assert counts[week.weekday()][9] == 2
    assert counts[(week + timedelta(days=2)).weekday()][14] == 2
    assert sum(map(sum, counts)) == 4


async def test_profile_default_window_and_errors(
    harness: Harness, project: AnalyticsProject, week: datetime
) -> None:
    url = f"{project.base}/developers/dev-a"
    profile = (await harness.client.get(url, headers={"X-API-Key": project.read_key})).json()
    assert profile["days"] == 30
    assert len(profile["cost_trend"]) == 30
    assert profile["cost_trend"][-1]["date"] == harness.clock.now().date().isoformat()
    assert profile["totals"]["events"] == 4  # the call 60 days ago is outside
    # A wider window reaches it.
    wide = await harness.client.get(
        url,
        params={"since": (week - timedelta(days=90)).isoformat()},
        headers=project.owner.headers,
    )
    assert wide.json()["totals"]["cost_usd"] == pytest.approx(103.0)

    unknown = await harness.client.get(
        f"{project.base}/developers/nobody", headers=project.owner.headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "developers.not_found"
    for params in (
        {"since": week.isoformat(), "until": (week - timedelta(days=1)).isoformat()},
        {"since": (week - timedelta(days=400)).isoformat()},
        {"since": "0001-01-01T00:00:00+05:00"},
        {"until": "9999-12-31T23:59:59"},
    ):
        bad = await harness.client.get(url, params=params, headers=project.owner.headers)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.json()["code"] == "analytics.invalid_window"
    garbled = await harness.client.get(
        url, params={"since": "last tuesday"}, headers=project.owner.headers
    )
    assert garbled.status_code == 422
    assert garbled.json()["code"] == "validation.failed"


async def test_developer_list_has_totals_sorting_and_pages(
    harness: Harness, project: AnalyticsProject, week: datetime
) -> None:
    url = f"{project.base}/developers"
    body = (await harness.client.get(url, headers=project.owner.headers)).json()
    assert body["total"] == 2  # events without a developer id are not a developer
    by_events = {row["developer_id"]: row for row in body["items"]}
    assert [row["developer_id"] for row in body["items"]] == ["dev-a", "dev-b"]
    assert by_events["dev-a"]["events"] == 4
    assert by_events["dev-a"]["sessions"] == 2
    assert by_events["dev-a"]["errors"] == 1
    assert by_events["dev-a"]["cost_usd"] == pytest.approx(3.0)
    assert by_events["dev-a"]["acceptance_rate"] == pytest.approx(2 / 3)
    assert by_events["dev-a"]["last_active"] == (week + timedelta(days=2)).date().isoformat()
    assert by_events["dev-b"]["acceptance_rate"] is None
    assert by_events["dev-b"]["cost_usd"] == pytest.approx(7.0)

    by_cost = (
        await harness.client.get(url, params={"sort": "-cost"}, headers=project.owner.headers)
    ).json()
    assert [row["developer_id"] for row in by_cost["items"]] == ["dev-b", "dev-a"]
    second = (
        await harness.client.get(
            url,
            params={"sort": "developer_id", "page": 2, "page_size": 1},
            headers=project.owner.headers,
        )
    ).json()
    assert (second["total"], second["pages"]) == (2, 2)
    assert [row["developer_id"] for row in second["items"]] == ["dev-b"]
    narrow = (
        await harness.client.get(
            url,
            params={"since": week.isoformat(), "until": (week + timedelta(days=1)).isoformat()},
            headers=project.owner.headers,
        )
    ).json()
    assert [(r["developer_id"], r["events"]) for r in narrow["items"]] == [("dev-a", 2)]
    bad = await harness.client.get(url, params={"sort": "salary"}, headers=project.owner.headers)
    assert bad.status_code == 422
    assert bad.json()["code"] == "pagination.invalid_sort"
