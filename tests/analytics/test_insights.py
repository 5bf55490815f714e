"""Insights: lagged correlations of AI activity with delivery, anomalies, findings.

Delivery data (commits, merged PRs) is written straight to the tables: how it
arrives (webhook, backfill) is tested elsewhere. Random data comes from seeded
generators, so every run sees the same numbers.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest

from prodlens.analytics.insights import analysis as insights
from prodlens.analytics.models import Commit, PullRequest
from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def window_of(harness: Harness, days: int) -> tuple[list[date], dict[str, str]]:
    """The `days` whole UTC days before today, and the query parameters for them."""
    today = harness.clock.now().date()
    first = today - timedelta(days=days)
    span = [first + timedelta(days=offset) for offset in range(days)]
    return span, {"since": midnight(first).isoformat(), "until": midnight(today).isoformat()}


async def add_activity(
    harness: Harness,
    project: AnalyticsProject,
    days: list[date],
    counts: list[int],
    *,
    cost: float = 0.01,
) -> None:
    """`counts[i]` events on `days[i]`, spread over six developers."""
    batch: list[dict[str, Any]] = []
    for day, count in zip(days, counts, strict=True):
        for index in range(count):
            number = len(batch)
            batch.append(
                event(
                    number,
                    midnight(day) + timedelta(hours=8, minutes=index),
                    developer_id=f"dev-{number % 6}",
                    cost_usd=cost,
                )
            )
    for start in range(0, len(batch), 1000):
        response = await harness.client.post(
            f"{project.base}/ingest/events",
            json=batch[start : start + 1000],
            headers={"X-API-Key": project.ingest_key},
        )
        assert response.json()["summary"]["rejected"] == 0, response.text


async def add_delivery(
    harness: Harness,
    project: AnalyticsProject,
    days: list[date],
    commits: list[int],
    merged: list[int],
) -> None:
    async with harness.app.state.database.sessionmaker() as session:
        for day, count in zip(days, commits, strict=True):
            for index in range(count):
                session.add(
                    Commit(
                        project_id=project.project_id,
                        repo="acme/app",
                        sha=f"{day:%Y%m%d}{index:04d}",
                        author="ada",
                        message="work",
                        committed_at=midnight(day) + timedelta(hours=12, minutes=index),
                    )
                )
        number = 0
        for day, count in zip(days, merged, strict=True):
            for index in range(count + 1):  # one more PR each day that stays open
                number += 1
                merged_at = midnight(day) + timedelta(hours=15, minutes=index)
                session.add(
                    PullRequest(
                        project_id=project.project_id,
                        repo="acme/app",
                        number=number,
                        title="change",
                        author="ada",
                        state="merged" if index < count else "open",
                        created_at=merged_at - timedelta(days=1),
                        merged_at=merged_at if index < count else None,
                        closed_at=merged_at if index < count else None,
                        updated_at=merged_at,
                    )
                )
        await session.commit()


async def report(harness: Harness, project: AnalyticsProject, **params: Any) -> dict[str, Any]:
    response = await harness.client.get(
        f"{project.base}/insights", params=params, headers={"X-API-Key": project.read_key}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def metric(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in body["correlations"] if m["metric"] == name)


async def test_planted_lag_two_is_found(harness: Harness, project: AnalyticsProject) -> None:
    """Commits follow AI activity by two days (plus noise); merged PRs are unrelated."""
    days, params = window_of(harness, 28)
    rng = np.random.default_rng(2026)
    activity = rng.integers(5, 40, size=28)
    commits = np.concatenate(
        [rng.integers(0, 4, size=2), np.round(0.5 * activity[:-2]) + rng.integers(0, 4, size=26)]
    )
    merged = rng.integers(0, 5, size=28)
    await add_activity(harness, project, days, [int(n) for n in activity])
    await add_delivery(harness, project, days, [int(n) for n in commits], [int(n) for n in merged])

    body = await report(harness, project, **params)
    assert body["status"] == "ok"
    assert body["days"] == 28
    found = metric(body, "commits")
    assert found["status"] == "ok"
    assert found["total"] == int(commits.sum())
    assert found["best_lag"] == 2
    lags = {lag["lag"]: lag for lag in found["lags"]}
    assert sorted(lags) == list(range(8))
    assert lags[2]["n"] == 26
    assert lags[2]["significant"] is True
    assert lags[2]["spearman"]["r"] > 0.8
    assert lags[2]["spearman"]["q"] < 0.05
    assert lags[2]["pearson"]["q"] < 0.05
    assert lags[0]["significant"] is False
    unrelated = metric(body, "merged_prs")
    assert unrelated["total"] == int(merged.sum())  # open PRs are not counted
    assert unrelated["best_lag"] is None
    finding = next(f for f in body["findings"] if f["kind"] == "correlation")
    assert finding["message"].startswith("AI activity correlates with commits two days later")
    assert (
        f"Spearman \N{GREEK SMALL LETTER RHO}={lags[2]['spearman']['r']:.2f}" in finding["message"]
    )
    assert "n=26" in finding["message"]
    assert finding["evidence"]["lag"] == 2
    assert finding["evidence"]["q"] == pytest.approx(lags[2]["spearman"]["q"])
    assert any(r["kind"] == "leading_indicator" for r in body["recommendations"])


async def test_independent_noise_is_not_significant_after_bh(
    harness: Harness, project: AnalyticsProject
) -> None:
    days, params = window_of(harness, 28)
    rng = np.random.default_rng(5)
    await add_activity(harness, project, days, [int(n) for n in rng.integers(5, 40, size=28)])
    await add_delivery(
        harness,
        project,
        days,
        [int(n) for n in rng.integers(0, 20, size=28)],
        [int(n) for n in rng.integers(0, 5, size=28)],
    )
    body = await report(harness, project, **params)
    raw = [
        lag[method]["p"]
        for name in ("commits", "merged_prs")
        for lag in metric(body, name)["lags"]
        for method in ("pearson", "spearman")
    ]
    # Some lag looks "significant" on its own (p=0.008): only the correction removes it.
    assert min(raw) < 0.01
    for name in ("commits", "merged_prs"):
        result = metric(body, name)
        assert result["status"] == "ok"
        assert result["best_lag"] is None
        for lag in result["lags"]:
            assert lag["status"] == "ok"
            assert lag["pearson"]["q"] >= 0.05
            assert lag["spearman"]["q"] >= 0.05
            assert lag["significant"] is False
    kinds = [f["kind"] for f in body["findings"]]
    assert kinds.count("no_correlation") == 2
    assert "correlation" not in kinds


def test_bh_keeps_false_discoveries_near_alpha_and_finds_planted_lags() -> None:
    """The two tests above are not lucky seeds: over 200 seeds, independent noise
    yields a significant lag for about alpha of them, and a planted lag is found."""
    false_alarms = detected = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        activity = rng.integers(5, 40, size=28).astype(float)
        noise = rng.integers(0, 20, size=28).astype(float)
        planted = np.concatenate(
            [rng.integers(0, 4, size=2), np.round(0.5 * activity[:-2]) + rng.integers(0, 4, 26)]
        ).astype(float)
        x, noise_y, planted_y = activity.tolist(), noise.tolist(), planted.tolist()
        false_alarms += insights.correlate("commits", x, noise_y, 7).best_lag is not None
        detected += insights.correlate("commits", x, planted_y, 7).best_lag == 2
    assert false_alarms / 200 <= 0.10
    assert detected == 200


async def test_short_windows_are_insufficient_data(
    harness: Harness, project: AnalyticsProject
) -> None:
    days, params = window_of(harness, 4)
    await add_activity(harness, project, days, [3, 5, 2, 8])
    await add_delivery(harness, project, days, [1, 2, 0, 4], [0, 1, 1, 0])
    body = await report(harness, project, **params)
    assert body["status"] == "insufficient_data"
    assert body["min_points"] == 6
    for name in ("commits", "merged_prs"):
        result = metric(body, name)
        assert result["status"] == "insufficient_data"
        assert {lag["status"] for lag in result["lags"]} == {"insufficient_data"}
        assert all(lag["spearman"]["r"] is None for lag in result["lags"])
    assert [f["kind"] for f in body["findings"]].count("insufficient_data") == 2
    assert "4 day(s)" in body["findings"][0]["message"]
    assert any(r["kind"] == "collect_data" for r in body["recommendations"])

    # Eight days: lags 0-2 have 6+ overlapping days, longer lags do not.
    days, params = window_of(harness, 8)
    body = await report(harness, project, **params)
    lags = metric(body, "commits")["lags"]
    assert [lag["n"] for lag in lags] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert [lag["status"] for lag in lags[3:]] == ["insufficient_data"] * 5
    assert all(lag["status"] == "ok" for lag in lags[:3])
    assert all(lag["spearman"]["q"] is not None for lag in lags[:3])
    shorter = await report(harness, project, max_lag=2, **params)
    assert len(metric(shorter, "commits")["lags"]) == 3


async def test_anomalies_flag_the_spike_day_and_the_big_spender(
    harness: Harness, project: AnalyticsProject
) -> None:
    days, params = window_of(harness, 14)
    counts = [2 + index % 3 for index in range(14)]
    await add_activity(harness, project, days, counts, cost=0.5)
    spike_day = days[9]
    spike = event(
        9999,
        midnight(spike_day) + timedelta(hours=20),
        developer_id="dev-spender",
        cost_usd=40.0,
    )
    await harness.client.post(
        f"{project.base}/ingest/events", json=[spike], headers={"X-API-Key": project.ingest_key}
    )
    body = await report(harness, project, **params)
    anomalies = body["anomalies"]
    assert anomalies["threshold"] == 3.5
    series = {s["name"]: s for s in anomalies["series"]}

    daily_cost = [0.5 * count for count in counts]
    daily_cost[9] += 40.0
    median = float(np.median(daily_cost))
    mad = float(np.median(np.abs(np.array(daily_cost) - median)))
    cost = series["daily_cost_usd"]
    assert (cost["median"], cost["mad"], cost["method"]) == (median, mad, "mad")
    assert [o["key"] for o in cost["outliers"]] == [spike_day.isoformat()]
    assert cost["outliers"][0]["z"] == pytest.approx(0.6745 * (daily_cost[9] - median) / mad)
    assert series["daily_events"]["outliers"] == []  # 3 calls that day is not unusual

    spenders = series["developer_cost_usd"]
    assert spenders["n"] == 7
    assert [o["key"] for o in spenders["outliers"]] == ["dev-spender"]
    assert spenders["outliers"][0]["value"] == pytest.approx(40.0)

    messages = [f["message"] for f in body["findings"] if f["kind"].startswith("anomaly")]
    day_message = next(m for m in messages if spike_day.isoformat() in m)
    assert f"${daily_cost[9]:,.2f}" in day_message
    assert f"robust z={cost['outliers'][0]['z']:.1f}" in day_message
    assert "|z| > 3.5" in day_message
    assert any(m.startswith("dev-spender spent $40.00") for m in messages)
    assert any(r["kind"] == "review_day" for r in body["recommendations"])

    relaxed = await report(harness, project, threshold=100, **params)
    assert relaxed["anomalies"]["threshold"] == 100
    assert all(s["outliers"] == [] for s in relaxed["anomalies"]["series"])


async def test_statistics_run_off_the_event_loop(
    harness: Harness, project: AnalyticsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real = insights.analyze

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(insights, "analyze", recording)
    await report(harness, project)
    assert threads
    assert threads[0] is not threading.current_thread()  # the test shares the app's loop


async def test_bad_parameters_are_problems(harness: Harness, project: AnalyticsProject) -> None:
    for params in (
        {"max_lag": -1},
        {"max_lag": 99},
        {"threshold": 0},
        {"threshold": "high"},
        {"since": "2026-13-45"},
    ):
        response = await harness.client.get(
            f"{project.base}/insights", params=params, headers=project.owner.headers
        )
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] == "validation.failed"
    too_long = await harness.client.get(
        f"{project.base}/insights",
        params={"since": "2020-01-01T00:00:00Z", "until": "2022-01-01T00:00:00Z"},
        headers=project.owner.headers,
    )
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "analytics.invalid_window"
