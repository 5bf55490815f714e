"""The generated demo: its shape, its labels, rollups as real ingest makes them, a login
that works, determinism, and when `serve` creates it (development only)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from prodlens.analytics.demo import store
from prodlens.analytics.demo.generator import LAG_DAYS, generate_data
from prodlens.config import Settings
from tests.harness import Harness


async def _generate(h: Harness, *, reset: bool = False, **options: Any) -> store.DemoResult:
    async with h.app.state.database.sessionmaker() as session, session.begin():
        if reset:
            await store.remove(session)
        return await store.generate(session, h.app.state.auth, **options)


def _day(value: Any) -> date:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.date()


async def test_demo_has_the_expected_shape(harness: Harness) -> None:
    result = await _generate(harness, days=60, seed=7)
    h = harness
    assert result.developers == 7
    assert result.days == 60

    (project,) = await h.sql("SELECT id, name, slug, allowed_models FROM projects")
    assert project[0] == result.project_id
    assert project[1] == "Demo (generated data)"
    allowed = set(project[3] if isinstance(project[3], list) else json.loads(project[3]))

    rows = await h.sql(
        "SELECT developer_id, started_at, response_model, accepted, status, latency_ms, "
        "cache_read_tokens, cost_source, source FROM events"
    )
    assert len(rows) == result.events
    assert 2500 <= len(rows) <= 8000  # realistic, and quick to generate
    assert len({r[0] for r in rows}) == 7
    days = Counter(_day(r[1]) for r in rows)
    today = h.clock.now().date()
    assert min(days) >= today - timedelta(days=59)
    assert max(days) <= today
    assert len(days) >= 45  # most days of 60 (weekends are quiet, not always empty)
    weekday_share = sum(n for d, n in days.items() if d.weekday() < 5) / len(rows)
    assert weekday_share > 0.85
    models = {r[2] for r in rows}
    assert len(models) >= 5
    assert len(models - allowed) == 1  # one model the policy does not allow
    known = [r[3] for r in rows if r[3] is not None]
    assert 0.3 <= sum(bool(v) for v in known) / len(known) <= 0.6
    assert sum(r[3] is None for r in rows) > 0.05 * len(rows)  # some outcomes unknown
    errors = sum(r[4] == "error" for r in rows) / len(rows)
    assert 0.01 < errors < 0.08
    latencies = sorted(r[5] for r in rows)
    assert latencies[len(latencies) // 20] < 1000 < 5000 < latencies[-len(latencies) // 20]
    assert sum(r[6] > 0 for r in rows) > 0.2 * len(rows)  # cache reads
    assert {r[7] for r in rows} == {"estimated"}  # priced from the table
    assert {r[8] for r in rows} == {"demo"}

    # Rollups and sessions exactly as the ingest service keeps them.
    assert await h.sql("SELECT sum(events) FROM rollups_daily") == [(len(rows),)]
    assert await h.sql("SELECT sum(events) FROM rollups_hourly") == [(len(rows),)]
    (sessions,) = await h.sql("SELECT count(DISTINCT session_id) FROM events")
    assert await h.sql("SELECT count(*) FROM llm_sessions") == [tuple(sessions)]

    commits = await h.sql("SELECT author, committed_at FROM commits")
    assert len(commits) == result.commits > 200
    assert {c[0] for c in commits} == {r[0] for r in rows}  # the same people, by login
    assert len({_day(c[1]) for c in commits}) >= 40
    pulls = await h.sql("SELECT state, reopened_count, merged_at FROM pull_requests")
    assert len(pulls) == result.pull_requests > 20
    states = Counter(p[0] for p in pulls)
    assert states["merged"] > states["closed"] > 0
    assert all(p[2] is not None for p in pulls if p[0] == "merged")

    # The demo user owns it and can sign in with the printed password.
    login = await h.login(result.username, result.password)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    mine = await h.client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert [(p["slug"], p["role"]) for p in mine.json()["items"]] == [("demo", "owner")]


def test_the_generator_is_pure_and_seeded() -> None:
    now = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    first = generate_data(seed=3, days=10, now=now)
    assert generate_data(seed=3, days=10, now=now) == first
    assert generate_data(seed=4, days=10, now=now) != first
    moments = [datetime.fromisoformat(event["started_at"]) for event in first.events]
    assert now - timedelta(days=10) < min(moments) <= max(moments) < now


async def test_same_seed_same_data_and_reset(harness: Harness) -> None:
    first = await _generate(harness, days=10, seed=3)
    events = await harness.sql("SELECT event_id, developer_id, input_tokens FROM events")
    with pytest.raises(store.DemoError, match="--reset"):
        await _generate(harness, days=10, seed=3)
    second = await _generate(harness, days=10, seed=3, reset=True)
    assert second.password != first.password  # a fresh login each time
    assert second.project_id != first.project_id
    again = await harness.sql("SELECT event_id, developer_id, input_tokens FROM events")
    assert sorted(map(tuple, again)) == sorted(map(tuple, events))
    assert await harness.sql("SELECT count(*) FROM users") == [(1,)]
    assert await harness.sql("SELECT count(*) FROM projects") == [(1,)]
    other = await _generate(harness, days=10, seed=4, reset=True)
    assert other.events != first.events or other.commits != first.commits


async def test_real_accounts_and_projects_are_never_touched(harness: Harness) -> None:
    real = await harness.signup("demo")
    with pytest.raises(store.DemoError, match="taken"):
        await _generate(harness, days=5, reset=True)
    await harness.client.post(
        "/api/v1/projects", json={"name": "Ours", "slug": "demo"}, headers=real.headers
    )
    with pytest.raises(store.DemoError, match="not demo data"):
        await _generate(harness, days=5, reset=True)
    assert await harness.sql("SELECT username FROM users") == [("demo",)]
    assert await harness.sql("SELECT name FROM projects") == [("Ours",)]


async def test_serve_creates_the_demo_only_on_an_empty_database(harness: Harness) -> None:
    created = await store.create_if_empty(harness.settings)
    assert created is not None
    assert await harness.sql("SELECT name FROM projects") == [("Demo (generated data)",)]
    assert await store.create_if_empty(harness.settings) is None  # there is an account now
    assert await harness.sql("SELECT count(*) FROM projects") == [(1,)]


def test_only_the_development_profile_wants_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    strong = SecretStr("s" * 48)

    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, allow_sqlite_in_production=True, **values)

    assert store.wanted_on_empty_database(settings(env="development"))
    assert not store.wanted_on_empty_database(settings(env="staging", secret_key=strong))
    assert not store.wanted_on_empty_database(settings(env="production", secret_key=strong))
    monkeypatch.setenv("PRODLENS_DEMO_ON_EMPTY", "false")
    assert not store.wanted_on_empty_database(settings(env="development"))


async def test_the_insights_find_what_was_planted_and_nothing_else(harness: Harness) -> None:
    """The demo's insights page (the default window: 60 days) shows the documented
    lagged relation, the provider incident and the runaway developer-day, and
    nothing else (the runaway day also shows in the team's daily totals)."""
    result = await _generate(harness, days=60, seed=7)
    planted = generate_data(seed=7, days=60, now=harness.clock.now())
    login = await harness.login(result.username, result.password)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    response = await harness.client.get(
        f"/api/v1/projects/{result.project_id}/insights", headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # Whole days only: today, still under way, is left out unless it is exactly midnight.
    now = harness.clock.now()
    at_midnight = now == datetime.combine(now.date(), datetime.min.time(), UTC)
    assert body["days"] == (60 if at_midnight else 59)
    # Commits follow AI activity two working days later; merged PRs do not follow it.
    assert body["headline"]["kind"] == "correlation"
    assert body["headline"]["evidence"]["metric"] == "commits"
    assert body["headline"]["evidence"]["lag"] == LAG_DAYS == 2
    assert [m["best_lag"] for m in body["correlations"]] == [2, None]
    assert [f["kind"] for f in body["findings"]].count("correlation") == 1
    # The incident and the runaway developer-day, and no other anomaly.
    found = {s["name"]: [o["key"] for o in s["outliers"]] for s in body["anomalies"]["series"]}
    developer, spike_day = planted.spike
    assert found["daily_error_rate"] == [planted.incident_day.isoformat()]
    assert found["developer_day_events"] == [f"{developer}@{spike_day.isoformat()}"]
    assert set(found["daily_events"] + found["daily_cost_usd"]) <= {spike_day.isoformat()}
