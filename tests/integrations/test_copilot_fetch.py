"""Fetching Copilot usage reports from a local fake of GitHub's REST API: the project's
settings (token sealed), download links on another origin (never sent the token),
pages of links, rate limits honoured, a day fetched again replaced, the command and the
scheduled fetch (one worker per tick)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import anyio.to_thread
import pytest
from typer.testing import CliRunner

from prodlens.analytics.copilot import import_report
from prodlens.cli.main import cli
from prodlens.config import CopilotSettings
from prodlens.integrations.copilot_fetch import (
    CopilotFetchError,
    CopilotScheduler,
    FetchResult,
    fetch_project,
)
from tests.analytics.copilot_reports import user_record
from tests.analytics.helpers import AnalyticsProject, analytics_project
from tests.harness import Harness
from tests.integrations.fake_copilot import FakeCopilot, serving

TOKEN = "github_pat_11ABCDEFG0123456789_copilot_metrics"


@pytest.fixture
def github() -> Iterator[FakeCopilot]:
    with serving(FakeCopilot(token=TOKEN)) as fake:
        yield fake


def _record(day: date, login: str, generations: int, accepted: int) -> dict[str, Any]:
    return user_record(
        day,
        login,
        user_id=len(login),
        rows=[("code_completion", "python", generations, accepted, generations, accepted, 0)],
    )


async def _configured(h: Harness, body: dict[str, Any] | None = None) -> AnalyticsProject:
    project = await analytics_project(h, name="Pilot")
    response = await h.client.put(
        f"{project.base}/integrations/copilot",
        json=body or {"organization": "acme", "token": TOKEN},
        headers=project.owner.headers,
    )
    assert response.status_code == 200, response.text
    return project


class Sleeps:
    """Records the waits asked for, without waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def _fetch(
    h: Harness,
    github: FakeCopilot,
    project: AnalyticsProject,
    *,
    since: date | None = None,
    sleep: Sleeps | None = None,
    **settings: Any,
) -> FetchResult:
    return await fetch_project(
        h.app.state.database.sessionmaker,
        project.project_id,
        store=import_report,
        secret_key=h.settings.secret_key.get_secret_value(),
        settings=CopilotSettings(api_url=github.api_url, initial_days=5, **settings),
        now=h.clock.now(),
        since=since,
        sleep=sleep or Sleeps(),
    )


async def _by_developer(h: Harness, project: AnalyticsProject) -> dict[str, dict[str, float]]:
    response = await h.client.get(
        f"{project.base}/assistants",
        params={"group_by": "developer", "source": "copilot"},
        headers={"X-API-Key": project.read_key},
    )
    assert response.status_code == 200, response.text
    return {group["group"]: group["metrics"] for group in response.json()["groups"]}


async def _status(h: Harness, project: AnalyticsProject) -> dict[str, Any]:
    response = await h.client.get(
        f"{project.base}/integrations/copilot", headers=project.owner.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_settings_seal_the_token_and_validate(harness: Harness) -> None:
    project = await _configured(harness)
    status = await _status(harness, project)
    assert status["configured"]
    assert status["token_usable"]
    assert (status["organization"], status["enterprise"]) == ("acme", None)
    assert TOKEN not in str(status)
    stored = await harness.sql(
        "SELECT settings FROM projects WHERE id = :id", id=project.project_id
    )
    assert TOKEN not in str(stored)
    assert "copilot" in str(stored)

    url = f"{project.base}/integrations/copilot"
    for body in (
        {"organization": "acme", "enterprise": "acme-corp", "token": TOKEN},
        {"token": TOKEN},
        {"organization": "acme", "token": "short"},
        {"organization": "acme", "token": TOKEN, "org": "typo"},
    ):
        response = await harness.client.put(url, json=body, headers=project.owner.headers)
        assert response.status_code == 422, body
    viewer_key = await harness.client.put(
        url, json={"organization": "acme", "token": TOKEN}, headers={"X-API-Key": project.read_key}
    )
    assert viewer_key.status_code in (401, 403)

    removed = await harness.client.delete(url, headers=project.owner.headers)
    assert removed.status_code == 204
    assert (await _status(harness, project))["configured"] is False


async def test_fetch_follows_pages_of_links_and_keeps_the_token_home(
    harness: Harness, github: FakeCopilot
) -> None:
    project = await _configured(harness)
    today = harness.clock.now().date()
    day1, day2 = today - timedelta(days=2), today - timedelta(days=1)
    github.reports["acme"] = {
        # Day 1 in three files, two links a page.
        day1.isoformat(): [
            [_record(day1, "ana", 10, 4)],
            [_record(day1, "ben", 20, 5)],
            [_record(day1, "chen", 6, 6)],
        ],
        day2.isoformat(): [[_record(day2, "ana", 30, 9)]],
    }
    github.links_per_page = 2

    result = await _fetch(harness, github, project)
    assert result.days == [day1, day2]
    assert result.missing == [today - timedelta(days=n) for n in (5, 4, 3)]  # no report
    assert (result.records, result.files, result.rejected) == (4, 4, 0)
    by_developer = await _by_developer(harness, project)
    assert {name: m["code_generations"] for name, m in by_developer.items()} == {
        "ana": 40,
        "ben": 20,
        "chen": 6,
    }

    seen = github.take_requests()
    api_host = github.api_url.removeprefix("http://")
    pages = [s for s in seen if s.path.endswith("users-1-day") and s.query.get("day") == str(day1)]
    assert [s.query.get("page") for s in pages] == [None, "2"]
    assert all(s.authorization == f"Bearer {TOKEN}" for s in seen if s.host == api_host)
    downloads = [s for s in seen if s.host != api_host]
    assert len(downloads) == 4
    assert all(s.authorization is None for s in downloads)

    status = await _status(harness, project)
    assert status["last_fetched_day"] == day2.isoformat()
    assert status["last_error"] is None

    # Nothing new: the next fetch asks for nothing (yesterday is the last day there is).
    again = await _fetch(harness, github, project)
    assert (again.days, again.missing) == ([], [])
    assert github.take_requests() == []


async def test_rate_limits_are_honoured(harness: Harness, github: FakeCopilot) -> None:
    project = await _configured(harness)
    today = harness.clock.now().date()
    day = today - timedelta(days=1)
    github.reports["acme"] = {day.isoformat(): [[_record(day, "ana", 10, 4)]]}
    reset = int(time.time()) + 30
    github.rate_limits = [
        (429, {"Retry-After": "7"}),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}),
    ]
    sleeps = Sleeps()
    result = await _fetch(harness, github, project, since=day, sleep=sleeps)
    assert result.days == [day]
    assert sleeps.seconds[0] == 7
    assert 25 <= sleeps.seconds[1] <= 32  # until the reset, plus a second
    assert result.waited_seconds == pytest.approx(sum(sleeps.seconds))
    assert [s.status for s in github.take_requests()][:3] == [429, 403, 200]

    # A wait beyond the limit stops the fetch and says when to retry.
    github.rate_limits = [(429, {"Retry-After": "3600"})]
    with pytest.raises(CopilotFetchError, match="rate limit; try again after"):
        await _fetch(harness, github, project, since=day, max_rate_limit_wait_seconds=60)
    assert "rate limit" in (await _status(harness, project))["last_error"]


async def test_a_day_fetched_again_is_replaced(harness: Harness, github: FakeCopilot) -> None:
    project = await _configured(harness, {"enterprise": "acme-corp", "token": TOKEN})
    day = harness.clock.now().date() - timedelta(days=1)
    github.reports["acme-corp"] = {day.isoformat(): [[_record(day, "ana", 10, 4)]]}
    await _fetch(harness, github, project, since=day)
    github.reports["acme-corp"][day.isoformat()] = [[_record(day, "ana", 12, 6)]]
    await _fetch(harness, github, project, since=day)
    assert (await _by_developer(harness, project))["ana"]["code_generations"] == 12
    kpis = await harness.client.get(
        f"{project.base}/metrics", headers={"X-API-Key": project.read_key}
    )
    by_name = {kpi["name"]: kpi for kpi in kpis.json()["kpis"]}
    assert by_name["copilot_acceptance_by_activity"]["value"] == pytest.approx(6 / 12)


async def test_the_fetch_command(harness: Harness, github: FakeCopilot) -> None:
    project = await _configured(harness)
    day = harness.clock.now().date() - timedelta(days=1)
    github.reports["acme"] = {day.isoformat(): [[_record(day, "ana", 10, 4)]]}
    env = {
        "DATABASE_URL": harness.settings.database_url,
        "PRODLENS_DATA_DIR": str(harness.settings.data_dir),
        "PRODLENS_COPILOT__API_URL": github.api_url,
        "PRODLENS_COPILOT__INITIAL_DAYS": "2",
    }

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["copilot", "fetch", "--project", "pilot", *args], env=env)
        return result.exit_code, " ".join(result.output.split())

    code, output = await anyio.to_thread.run_sync(invoke)
    assert code == 0, output
    assert "Copilot → pilot: 1 day(s) stored (1 record(s), 1 file(s), 0 rejected)" in output
    assert (await _by_developer(harness, project))["ana"]["code_generations"] == 10

    code, output = await anyio.to_thread.run_sync(lambda: invoke("--since", "yesterday"))
    assert code == 2
    assert "not a day" in output
    github.token = "another-token-entirely-0123456789"  # GitHub now refuses ours
    code, output = await anyio.to_thread.run_sync(lambda: invoke("--since", day.isoformat()))
    assert code == 1
    assert "HTTP 401, the token was refused" in output


async def test_one_worker_fetches_per_tick(harness: Harness, github: FakeCopilot) -> None:
    project = await _configured(harness)
    day = harness.clock.now().date() - timedelta(days=1)
    github.reports["acme"] = {day.isoformat(): [[_record(day, "ana", 10, 4)]]}
    settings = CopilotSettings(api_url=github.api_url, fetch_interval_minutes=60, initial_days=1)

    def worker() -> CopilotScheduler:
        return CopilotScheduler(
            settings,
            secret_key=harness.settings.secret_key.get_secret_value(),
            sessionmaker=harness.app.state.database.sessionmaker,
            state=harness.app.state.state_store,
            clock=harness.clock,
            store=import_report,
        )

    first, second = worker(), worker()
    outcomes = await first.tick()
    assert outcomes is not None
    outcome = outcomes[project.project_id]
    assert isinstance(outcome, FetchResult)
    assert outcome.days == [day]
    assert await second.tick() is None  # the lease of this tick is taken
    harness.advance(hours=1)
    assert await second.tick() == {project.project_id: FetchResult()}  # nothing new to fetch
    assert (await _by_developer(harness, project))["ana"]["code_generations"] == 10
