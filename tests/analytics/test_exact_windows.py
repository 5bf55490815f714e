"""KPI and raw-metric windows are exactly `[since, until)`, whatever the minutes of
either edge: the partial hours at the edges are read from the events, whole hours
and days from the rollups. Time series buckets stay whole hours and days."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness

H = timedelta(hours=1)
M = timedelta(minutes=1)


def _day(harness: Harness) -> datetime:
    """Midnight UTC three days back: every event below is in the past."""
    now = harness.clock.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)


async def _ingest(harness: Harness, project: AnalyticsProject, events: list[Any]) -> None:
    response = await harness.client.post(
        f"{project.base}/ingest/events", json=events, headers={"X-API-Key": project.ingest_key}
    )
    assert response.json()["summary"]["accepted"] == len(events), response.text


async def _raw(
    harness: Harness, project: AnalyticsProject, since: datetime, until: datetime, **params: Any
) -> dict[str, Any]:
    response = await harness.client.get(
        f"{project.base}/metrics/raw",
        params={"since": since.isoformat(), "until": until.isoformat(), **params},
        headers=project.owner.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_window_counts_the_events_between_its_edges_only(harness: Harness) -> None:
    project = await analytics_project(harness)
    day = _day(harness)
    at = {minute: day + 14 * H + minute * M for minute in (10, 30, 100, 110)}  # 14:10 ... 15:50
    await _ingest(
        harness,
        project,
        [
            # Outside the window [14:20, 15:45): slow calls that would show in any figure.
            event(1, at[10], developer_id="early", session_id="s-early", latency_ms=90_000,
                  cost_usd=5.0, response_model="outside"),
            event(2, at[30], developer_id="alice", session_id="s-a", latency_ms=500,
                  cost_usd=0.25),
            event(3, at[100], developer_id="bob", session_id="s-b", latency_ms=800,
                  cost_usd=0.5),
            event(4, at[110], developer_id="late", session_id="s-late", latency_ms=90_000,
                  cost_usd=5.0, response_model="outside"),
        ],
    )  # fmt: skip
    since, until = day + 14 * H + 20 * M, day + 15 * H + 45 * M
    raw = await _raw(harness, project, since, until)
    # 14:30 (alice) and 15:40 (bob) are in; 14:10 and 15:50 are not.
    assert raw["events"] == 2
    assert raw["cost_usd"] == 0.75
    assert raw["active_developers"] == 2
    assert raw["active_developer_hours"] == 2  # alice 14:00, bob 15:00
    assert raw["developer_days"] == 2
    assert raw["sessions"] == 2  # s-a and s-b started in the window
    assert raw["policy_calls"] == 2
    assert raw["latency_count"] == 2
    assert raw["latency_p99_ms"] < 1000  # not the 90 s calls outside the window

    # The same on each side alone: `until` ends at 15:45, not at the end of its hour ...
    later = await _raw(harness, project, day + 15 * H, until)
    assert later["events"] == 1
    # ... and `since` starts at 14:20, not at the start of its hour.
    earlier = await _raw(harness, project, since, day + 15 * H)
    assert earlier["events"] == 1
    # Within one hour.
    inside = await _raw(harness, project, since, day + 14 * H + 50 * M)
    assert (inside["events"], inside["active_developers"]) == (1, 1)

    # Filters apply to the edges too.
    alice = await _raw(harness, project, since, until, developer="alice")
    assert (alice["events"], alice["sessions"]) == (1, 1)
    outside = await _raw(harness, project, since, until, model="outside")
    assert outside["events"] == 0

    # KPIs read the same sums.
    kpis = await harness.client.get(
        f"{project.base}/metrics",
        params={"since": since.isoformat(), "until": until.isoformat()},
        headers=project.owner.headers,
    )
    by_name = {kpi["name"]: kpi for kpi in kpis.json()["kpis"]}
    assert by_name["error_rate"]["sample_size"] == 2
    assert by_name["latency_p95"]["value"] < 1000

    # A time series bucket is a whole hour: 14:00 holds 14:10 and 14:30.
    series = await harness.client.get(
        f"{project.base}/metrics/timeseries",
        params={"since": since.isoformat(), "until": until.isoformat(), "interval": "hour"},
        headers=project.owner.headers,
    )
    assert [point["value"] for point in series.json()["points"]] == [2, 2]


async def test_whole_days_hours_and_edges_add_up(harness: Harness) -> None:
    """From 23:30 to 00:30 a day and an hour later: an edge from the events, a whole
    day from the daily rollups, another edge; distinct counts are not counted twice."""
    project = await analytics_project(harness)
    day = _day(harness) - timedelta(days=1)
    await _ingest(
        harness,
        project,
        [
            event(1, day + 23 * H + 10 * M, developer_id="alice"),  # before since
            event(2, day + 23 * H + 40 * M, developer_id="alice"),  # edge: alice, day 0
            event(3, day + 36 * H, developer_id="alice"),  # whole day 1
            event(4, day + 46 * H + 5 * M, developer_id="bob"),  # whole hour of day 1
            event(5, day + 48 * H + 20 * M, developer_id="bob"),  # edge: bob, day 2
            event(6, day + 48 * H + 40 * M, developer_id="carol"),  # after until
        ],
    )
    raw = await _raw(harness, project, day + 23 * H + 30 * M, day + 48 * H + 30 * M)
    assert raw["events"] == 4
    assert raw["active_developers"] == 2
    assert raw["active_developer_hours"] == 4
    # alice day 0 (edge) and day 1; bob day 1 and day 2 (edge).
    assert raw["developer_days"] == 4
    hours = await _raw(harness, project, day + 23 * H + 30 * M, day + 47 * H)
    # Up to 23:00 of day 1: not a whole day, read hour by hour; alice counted once a day.
    assert (hours["events"], hours["developer_days"]) == (3, 3)
