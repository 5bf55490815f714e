"""Insights through the API: teams shaped like real ones (working weeks, busy spells,
several developers; tests/analytics/insight_scenarios.py) loaded through ingest,
delivery data written to its tables (how it arrives is tested elsewhere).

The report must be the statistics of exactly the data loaded (checked against the
same analysis run on the generated series), find what was planted, and not be
fooled by the working week. Rates over many datasets are in
test_insights_calibration.py.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from scipy import stats

from prodlens.analytics.calendar import WorkCalendar
from prodlens.analytics.insights import analysis
from prodlens.analytics.insights.series import Series
from prodlens.analytics.models import Commit, PullRequest
from tests.analytics.helpers import AnalyticsProject, analytics_project, event, ingest_all
from tests.analytics.insight_scenarios import generate
from tests.harness import Harness


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def load(harness: Harness, project: AnalyticsProject, series: Series) -> dict[str, str]:
    """Ingest every developer-day's events (cost and errors as generated) and write the
    commits and merged PRs; the query parameters of a window covering exactly the days."""
    batch: list[dict[str, Any]] = []
    errors_left = {day: int(n) for day, n in zip(series.days, series.daily_errors, strict=True)}
    for developer, counts in series.developer_events.items():
        for index, (day, count) in enumerate(zip(series.days, counts, strict=True)):
            # The day's cost spread evenly over its calls: the daily totals are exact.
            cost = series.daily_cost[index] / series.activity[index] if count else 0.0
            for call in range(int(count)):
                failed = errors_left[day] > 0
                errors_left[day] -= failed
                batch.append(
                    event(
                        len(batch),
                        midnight(day) + timedelta(hours=8, seconds=7 * call),
                        developer_id=developer,
                        cost_usd=cost,
                        status="error" if failed else "ok",
                    )
                )
    await ingest_all(harness, project, batch)
    async with harness.app.state.database.sessionmaker() as session:
        number = 0
        for day, commits, merged in zip(
            series.days, series.commits, series.merged_prs, strict=True
        ):
            for index in range(int(commits)):
                session.add(
                    Commit(
                        project_id=project.project_id,
                        repo="acme/app",
                        sha=f"{day:%Y%m%d}{index:04d}",
                        author="ada",
                        message="work",
                        committed_at=midnight(day) + timedelta(hours=12, seconds=index),
                    )
                )
            for index in range(int(merged) + 1):  # one more each day that stays open
                number += 1
                at = midnight(day) + timedelta(hours=15, seconds=index)
                done = index < merged
                session.add(
                    PullRequest(
                        project_id=project.project_id,
                        repo="acme/app",
                        number=number,
                        title="change",
                        author="ada",
                        state="merged" if done else "open",
                        created_at=at - timedelta(days=1),
                        merged_at=at if done else None,
                        closed_at=at if done else None,
                        updated_at=at,
                    )
                )
        await session.commit()
    return {
        "since": midnight(series.days[0]).isoformat(),
        "until": midnight(series.days[-1] + timedelta(days=1)).isoformat(),
    }


async def report(harness: Harness, project: AnalyticsProject, **params: Any) -> dict[str, Any]:
    response = await harness.client.get(
        f"{project.base}/insights", params=params, headers={"X-API-Key": project.read_key}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def yesterday(harness: Harness) -> date:
    return harness.clock.now().date() - timedelta(days=1)


def metric(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in body["correlations"] if m["metric"] == name)


async def test_planted_lag_two_is_the_headline(harness: Harness, project: AnalyticsProject) -> None:
    series = generate("planted_lag2", seed=0, end=yesterday(harness)).series
    body = await report(harness, project, **await load(harness, project, series))
    assert body["status"] == "ok"
    assert body["days"] == 60
    assert body["working_days"] == sum(day.weekday() < 5 for day in series.days)
    assert body["observational"] is True
    commits = metric(body, "commits")
    assert commits["total"] == int(sum(series.commits))
    assert commits["best_lag"] == 2
    lag = commits["lags"][2]
    assert lag["significant"] is True
    assert lag["pearson"]["q"] < 0.05
    assert lag["pearson"]["r"] >= body["effect_floor"]
    assert lag["pearson"]["ci_low"] < lag["pearson"]["r"] < lag["pearson"]["ci_high"]
    assert 0 < lag["n_effective"] <= lag["n"]
    headline = body["headline"]
    assert headline["kind"] == "correlation"
    assert (headline["evidence"]["metric"], headline["evidence"]["lag"]) == ("commits", 2)
    assert headline["message"].startswith(
        "Working days with more AI activity were followed by more commits 2 working days later"
    )
    assert "observational" in headline["message"]
    assert "weekday patterns" in headline["message"]
    # Exactly the statistics of the data loaded: the same analysis on the generated series.
    direct = analysis.analyze(series, WorkCalendar(), max_lag=7)
    expected = next(c for c in direct["correlations"] if c.metric == "commits").lags[2]
    assert lag["pearson"]["r"] == pytest.approx(expected.pearson.r, abs=1e-9)
    assert lag["pearson"]["q"] == pytest.approx(expected.pearson.q, rel=1e-9)


async def test_the_working_week_alone_is_not_a_relation(
    harness: Harness, project: AnalyticsProject
) -> None:
    """Independent series that both follow the week: a naive test finds a relation."""
    series = generate("ar1_weekly", seed=1, end=yesterday(harness)).series
    # What the calendar alone does to a naive test: "significant" at lag 0.
    naive = stats.spearmanr(series.activity, series.commits)
    assert naive.statistic > 0.5
    assert naive.pvalue < 0.001
    body = await report(harness, project, **await load(harness, project, series))
    assert [f["kind"] for f in body["findings"]][:2] == ["no_correlation", "no_correlation"]
    assert all(m["best_lag"] is None for m in body["correlations"])
    assert "survived (16 tests, false discovery rate 5%" in body["findings"][0]["message"]
    assert body["headline"] is None or body["headline"]["kind"] != "correlation"


async def test_one_call_and_one_commit_are_not_a_correlation(
    harness: Harness, project: AnalyticsProject
) -> None:
    day = next(
        yesterday(harness) - timedelta(days=back)
        for back in range(7)
        if (yesterday(harness) - timedelta(days=back)).weekday() < 5
    )
    await harness.client.post(
        f"{project.base}/ingest/events",
        json=[event(1, midnight(day) + timedelta(hours=10))],
        headers={"X-API-Key": project.ingest_key},
    )
    async with harness.app.state.database.sessionmaker() as session:
        session.add(
            Commit(
                project_id=project.project_id,
                repo="acme/app",
                sha="abc",
                author="ada",
                message="work",
                committed_at=midnight(day) + timedelta(hours=11),
            )
        )
        await session.commit()
    body = await report(harness, project)
    for result in body["correlations"]:
        assert result["status"] == "insufficient_data"
        assert all(lag["pearson"]["r"] is None for lag in result["lags"])
    assert [f["kind"] for f in body["findings"]] == ["insufficient_data"] * 2
    assert "1 working day(s) with commits" in body["findings"][0]["message"]
    assert any(r["kind"] == "collect_data" for r in body["recommendations"])
    assert all(s["outliers"] == [] for s in body["anomalies"]["series"])


async def test_the_runaway_developer_day_and_the_incident_surface(
    harness: Harness, project: AnalyticsProject
) -> None:
    generated = generate("ar1_weekly", seed=4, spike=True, end=yesterday(harness))
    assert generated.spike is not None
    series, (developer, spike_day) = generated.series, generated.spike
    # A provider incident: 40 % of one working day's calls fail.
    incident = next(
        i for i, day in enumerate(series.days) if day.weekday() == 2 and day != spike_day
    )
    series.daily_errors[incident] = round(series.activity[incident] * 0.4)
    body = await report(harness, project, **await load(harness, project, series))
    unusual = {s["name"]: s for s in body["anomalies"]["series"]}
    spikes = unusual["developer_day_events"]["outliers"]
    assert [(o["developer"], o["day"]) for o in spikes] == [(developer, spike_day.isoformat())]
    errors = unusual["daily_error_rate"]["outliers"]
    assert [o["day"] for o in errors] == [series.days[incident].isoformat()]
    assert errors[0]["value"] == pytest.approx(0.4, abs=0.01)
    points = body["anomalies"]["points"]
    assert body["anomalies"]["threshold_p"] == pytest.approx(0.05 / points)
    assert spikes[0]["p"] < body["anomalies"]["threshold_p"]
    messages = [f["message"] for f in body["findings"]]
    assert any(
        m.startswith(f"{developer} made {spikes[0]['value']:,.0f} AI calls") for m in messages
    )
    assert any("of AI calls failed" in m and "provider" in m for m in messages)
    kinds = {r["kind"] for r in body["recommendations"]}
    assert {"review_developer_day", "review_errors"} <= kinds


async def test_the_calendar_decides_what_a_working_day_is(
    harness: Harness, project: AnalyticsProject
) -> None:
    url = f"{project.base}/calendar"
    owner = project.owner.headers
    assert (await harness.client.get(url, headers=owner)).json() == {
        "working_days": [0, 1, 2, 3, 4],
        "holidays": [],
    }
    week = [yesterday(harness) - timedelta(days=offset) for offset in range(7)]
    holiday = next(day for day in week if day.weekday() == 2)
    put = await harness.client.put(
        url,
        json={"working_days": [0, 1, 2, 3, 4, 5], "holidays": [holiday.isoformat()]},
        headers=owner,
    )
    assert put.status_code == 200, put.text
    assert put.json() == {"working_days": [0, 1, 2, 3, 4, 5], "holidays": [holiday.isoformat()]}
    since = midnight(week[-1]).isoformat()
    until = midnight(week[0] + timedelta(days=1)).isoformat()
    body = await report(harness, project, since=since, until=until)
    assert body["working_days"] == 5  # six working weekdays, one of them a holiday
    assert body["calendar"]["holidays"] == [holiday.isoformat()]
    bad: dict[str, Any]
    for bad in ({"working_days": [7]}, {"working_days": []}, {"holidays": ["someday"]}, {"x": 1}):
        response = await harness.client.put(url, json=bad, headers=owner)
        assert response.status_code == 422, (bad, response.text)
    viewer = await harness.signup("viewer")
    added = await harness.client.post(
        f"{project.base}/members", json={"user": "viewer", "role": "viewer"}, headers=owner
    )
    assert added.status_code == 201, added.text
    assert (await harness.client.get(url, headers=viewer.headers)).status_code == 200
    denied = await harness.client.put(url, json={"working_days": [0]}, headers=viewer.headers)
    assert denied.status_code == 403


async def test_statistics_run_off_the_event_loop(
    harness: Harness, project: AnalyticsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real = analysis.analyze

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "analyze", recording)
    await report(harness, project)
    assert threads
    assert threads[0] is not threading.current_thread()  # the test shares the app's loop


async def test_bad_parameters_are_problems(harness: Harness, project: AnalyticsProject) -> None:
    for params in ({"max_lag": -1}, {"max_lag": 99}, {"since": "2026-13-45"}):
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
