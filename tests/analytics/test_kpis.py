"""KPIs, raw metrics, time series, KPI targets and `prodlens report`, on a dataset small
enough that every number is worked out by hand in the comments below."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from prodlens.analytics.kpis import KPIS, Target, status_of
from prodlens.analytics.models import Commit, PullRequest
from prodlens.cli.main import cli
from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness

H = timedelta(hours=1)
D = timedelta(days=1)


def _last_tuesday(now: datetime) -> datetime:
    """Midnight of a Tuesday at least three days back: the dataset's first day, fixed to a
    weekday so the ISO-week test knows where Monday falls, and in the past so ingest
    accepts it."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) - 3 * D
    return day - timedelta(days=(day.weekday() - 1) % 7)


@dataclass
class Dataset:
    project: AnalyticsProject
    day: datetime  # T, a Tuesday 00:00 UTC; the KPI window is [T, T + 2 days)

    @property
    def window(self) -> dict[str, str]:
        return {"since": self.day.isoformat(), "until": (self.day + 2 * D).isoformat()}

    def url(self, suffix: str = "") -> str:
        return f"{self.project.base}/metrics{suffix}"

    @property
    def headers(self) -> dict[str, str]:
        return self.project.owner.headers


async def load_dataset(harness: Harness) -> Dataset:
    """Six calls, four sessions, four commits and six pull requests.

    call  developer  time (T=day)   model                     accepted  lines s/a  tokens in/out/cache  cost   latency  session
    e1    alice      T 09:05        gpt-4o                    yes       10/8       1000/200/500 =1700   0.5    120      s1
    e2    alice      T 09:40        gpt-4o                    no        5/0        800/100/0    = 900   0.25   900      s1
    e3    alice      T 10:15        claude-sonnet-4-20250514  (error)   -          400/0/0      = 400   0.25   2500     s1
    e4    bob        T 09:30        gpt-4o                    yes       4/4        600/150/300  =1050   0.125  450      s3
    e5    bob        T+1 14:00      llama-3-70b               yes       6/6        200/50/0     = 250   0.125  7000     s4
    e6    (none)     T+1 15:00      openai/gpt-4o             no        -          100/20/0     = 120   0.25   40       s5
    """  # noqa: E501
    project = await analytics_project(harness, allowed_models=["gpt-4o", "Claude-Sonnet-4*"])
    day = _last_tuesday(harness.clock.now())
    dev = {"developer_id": "alice"}
    batch = [
        event(1, day + 9 * H + timedelta(minutes=5), **dev, session_id="s1", accepted=True,
              lines_suggested=10, lines_accepted=8, input_tokens=1000, output_tokens=200,
              cache_read_tokens=500, cost_usd=0.5, latency_ms=120),
        event(2, day + 9 * H + timedelta(minutes=40), **dev, session_id="s1", accepted=False,
              lines_suggested=5, lines_accepted=0, input_tokens=800, output_tokens=100,
              cost_usd=0.25, latency_ms=900),
        event(3, day + 10 * H + timedelta(minutes=15), **dev, session_id="s1", status="error",
              error_type="Timeout", request_model="claude-sonnet-4-20250514",
              response_model="claude-sonnet-4-20250514", input_tokens=400, output_tokens=0,
              cost_usd=0.25, latency_ms=2500),
        event(4, day + 9 * H + timedelta(minutes=30), developer_id="bob", session_id="s3",
              accepted=True, lines_suggested=4, lines_accepted=4, input_tokens=600,
              output_tokens=150, cache_read_tokens=300, cost_usd=0.125, latency_ms=450),
        event(5, day + D + 14 * H, developer_id="bob", session_id="s4", accepted=True,
              lines_suggested=6, lines_accepted=6, request_model="llama-3-70b",
              response_model="llama-3-70b", input_tokens=200, output_tokens=50,
              cost_usd=0.125, latency_ms=7000),
        event(6, day + D + 15 * H, developer_id=None, session_id="s5", accepted=False,
              request_model="openai/gpt-4o", response_model="openai/gpt-4o", input_tokens=100,
              output_tokens=20, cost_usd=0.25, latency_ms=40),
    ]  # fmt: skip
    ingested = await harness.client.post(
        f"{project.base}/ingest/events", json=batch, headers={"X-API-Key": project.ingest_key}
    )
    assert ingested.json()["summary"]["accepted"] == 6, ingested.text

    # Delivery data, as the GitHub webhook would store it.
    def pr(number: int, author: str, created: datetime, **fields: Any) -> PullRequest:
        state = (
            "merged" if fields.get("merged_at") else "closed" if fields.get("closed_at") else "open"
        )
        return PullRequest(
            project_id=project.project_id, repo="acme/app", number=number, title=f"PR {number}",
            author=author, state=state, created_at=created, merged_at=fields.get("merged_at"),
            closed_at=fields.get("closed_at", fields.get("merged_at")),
            reopened_count=fields.get("reopened_count", 0), updated_at=created,
        )  # fmt: skip

    def commit(sha: str, author: str, at: datetime) -> Commit:
        return Commit(
            project_id=project.project_id, repo="acme/app", sha=sha, author=author,
            message="change", committed_at=at,
        )  # fmt: skip

    async with harness.app.state.database.sessionmaker() as session, session.begin():
        session.add_all(
            [
                commit("c1", "alice", day + 11 * H),
                commit("c2", "bob", day + D + 10 * H),
                commit("c3", "Alice", day + D + 16 * H),  # same login, other case
                commit("c4", "alice", day - D + 10 * H),  # before the window
                # merged 24 h after creation; created before the window, merged in it
                pr(1, "alice", day - D + 12 * H, merged_at=day + 12 * H),
                # closed, reopened, then merged 6 h after creation: rework
                pr(2, "alice", day + 8 * H, merged_at=day + 14 * H, reopened_count=1),
                pr(3, "bob", day + 10 * H, merged_at=day + D + 22 * H),  # 36 h
                pr(4, "bob", day + D + 9 * H, closed_at=day + D + 12 * H),  # closed unmerged
                pr(5, "alice", day + D + 13 * H),  # still open
                pr(6, "alice", day - 5 * D, merged_at=day - 2 * D),  # merged before the window
            ]
        )
    return Dataset(project, day)


@pytest.fixture
async def dataset(harness: Harness) -> Dataset:
    return await load_dataset(harness)


# The latencies of e1 ... e6, in ms.
LATENCIES_MS = (120, 900, 2500, 450, 7000, 40)


def sketch_percentile(values: Any, percent: float) -> float:
    """What the latency sketch reports, to within its 1 %: the value at rank
    q x (n - 1) rounded down (DDSketch's rule), numpy's "lower" percentile."""
    return float(np.percentile(values, percent, method="lower"))


# Every KPI of the dataset over [T, T + 2 days): (value, sample size, status with defaults).
EXPECTED: dict[str, tuple[float | None, int, str]] = {
    # Sessions with a developer: s1 (alice), s3, s4 (bob) = 3; s5 has none.
    # Active developer-hours: alice T 09, alice T 10, bob T 09, bob T+1 14 = 4.
    # 3 / 4 = 0.75; sample 4 developer-hours < 10.
    "sessions_per_developer_hour": (3 / 4, 4, "insufficient_data"),
    # Accepted e1, e4, e5 = 3; rejected e2, e6 = 2; e3 unknown, left out. 3 / 5; sample 5 < 20.
    "acceptance_rate": (3 / 5, 5, "insufficient_data"),
    # One error (e3) in 6 calls; sample 6 < 20.
    "error_rate": (1 / 6, 6, "insufficient_data"),
    # Sorted latencies 40, 120, 450, 900, 2500, 7000; the sketch reports the value at
    # rank q x 5 rounded down, within 1 %: p50 rank 2.5 -> 450, p90 4.5 -> 2500, p95
    # 4.75 -> 2500, p99 4.95 -> 2500. p99 wants a sample of 100 calls.
    "latency_p50": (sketch_percentile(LATENCIES_MS, 50), 6, "insufficient_data"),
    "latency_p90": (sketch_percentile(LATENCIES_MS, 90), 6, "insufficient_data"),
    "latency_p95": (sketch_percentile(LATENCIES_MS, 95), 6, "insufficient_data"),
    "latency_p99": (sketch_percentile(LATENCIES_MS, 99), 6, "insufficient_data"),
    # Total tokens 1700 + 900 + 400 + 1050 + 250 + 120 = 4420; accepted lines
    # 8 + 0 + 4 + 6 = 18. 4420 / 18 = 245.6; sample 18 lines < 20.
    "tokens_per_accepted_line": (4420 / 18, 18, "insufficient_data"),
    # Cost 0.5 + 0.25 + 0.25 + 0.125 + 0.125 + 0.25 = 1.5; merged in the window: PRs 1,
    # 2, 3. 1.5 / 3 = 0.5 USD <= 25: good (sample 3 >= 3).
    "cost_per_merged_pr": (0.5, 3, "good"),
    # Allowed: "gpt-4o" (e1, e2, e4, and e6's "openai/gpt-4o": the provider prefix is
    # ignored) and "claude-sonnet-4*" (e3, case-insensitively); llama (e5) is not.
    # 5 / 6; sample 6 < 20.
    "model_policy_compliance": (5 / 6, 6, "insufficient_data"),
    # 3 merged PRs in 2 days = 2/7 week: 3 / (2 / 7) = 10.5 a week >= 3: good.
    # Sample: PRs created or merged in the window: 1, 2, 3, 4, 5 = 5 (6 is earlier).
    "pr_throughput": (10.5, 5, "good"),
    # Commits c1, c2, c3 in 2 days = 1.5 a day: below 2 (good), at least 0.5: warning.
    "commit_frequency": (1.5, 3, "warning"),
    # Merge times 24 h, 6 h, 36 h: median 24 <= 24 (the target itself): good.
    "pr_merge_time": (24, 3, "good"),
    # Merged or closed in the window: PRs 1, 2, 3, 4 = 4; reopened at least once: PR 2.
    # 1 / 4; sample 4 < 5.
    "rework_rate": (1 / 4, 4, "insufficient_data"),
    # Cache reads 500 + 300 = 800; input 1000 + 800 + 400 + 600 + 200 + 100 = 3100.
    # 800 / (3100 + 800) = 0.205; sample 6 calls < 20.
    "cache_hit_ratio": (800 / 3900, 6, "insufficient_data"),
    # Cost of calls with a developer: 1.5 - 0.25 (e6) = 1.25. Developer-days: alice T,
    # bob T, bob T+1 = 3. 1.25 / 3 = 0.417; sample 3 < 5.
    "cost_per_developer_day": (1.25 / 3, 3, "insufficient_data"),
    # The assistants' own reports: none in this dataset (tests/analytics/test_copilot.py).
    "copilot_acceptance_by_activity": (None, 0, "insufficient_data"),
    "copilot_acceptance_by_lines": (None, 0, "insufficient_data"),
    "claude_code_edit_acceptance": (None, 0, "insufficient_data"),
}
LOWER_IS_BETTER = {
    "error_rate",
    "latency_p50",
    "latency_p90",
    "latency_p95",
    "latency_p99",
    "tokens_per_accepted_line",
    "cost_per_merged_pr",
    "pr_merge_time",
    "rework_rate",
    "cost_per_developer_day",
}


def _tolerance(name: str) -> float:
    """Percentiles are the sketch's, within its relative accuracy; the rest is exact."""
    return 0.01 if name.startswith("latency_p") else 1e-12


def _expected(name: str, value: float | None) -> Any:
    """What a KPI's value should equal: no value, or `value` within the tolerance."""
    return None if value is None else pytest.approx(value, rel=_tolerance(name), abs=0)


def _by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {kpi["name"]: kpi for kpi in body["kpis"]}


async def test_every_kpi_matches_the_hand_computed_values(
    harness: Harness, dataset: Dataset
) -> None:
    response = await harness.client.get(
        dataset.url(), params=dataset.window, headers=dataset.headers
    )
    assert response.status_code == 200, response.text
    kpis = _by_name(response.json())
    assert list(kpis) == [kpi.name for kpi in KPIS]
    assert set(kpis) == set(EXPECTED)
    for name, (value, sample_size, status) in EXPECTED.items():
        kpi = kpis[name]
        assert kpi["value"] == _expected(name, value), name
        assert (kpi["sample_size"], kpi["status"]) == (sample_size, status), name
        expected_direction = "lower_is_better" if name in LOWER_IS_BETTER else "higher_is_better"
        assert kpi["direction"] == expected_direction, name
        assert {"unit", "target", "warning_threshold", "min_sample"} <= kpi.keys()
    assert kpis["acceptance_rate"]["target"] == 0.30
    assert kpis["error_rate"]["target"] == 0.02
    assert kpis["latency_p95"]["target"] == 5000


async def test_raw_metrics_are_the_underlying_sums(harness: Harness, dataset: Dataset) -> None:
    response = await harness.client.get(
        dataset.url("/raw"), params=dataset.window, headers=dataset.headers
    )
    assert response.status_code == 200, response.text
    raw = response.json()
    assert {key: raw[key] for key in EXPECTED_RAW} == EXPECTED_RAW
    # (40 + 120 + 450 + 900 + 2500 + 7000) / 6 = 1835
    assert raw["latency_mean_ms"] == pytest.approx(1835)
    for percent in (50, 90, 95, 99):
        expected = sketch_percentile(LATENCIES_MS, percent)
        assert raw[f"latency_p{percent}_ms"] == pytest.approx(expected, rel=0.01), percent
        assert raw[f"ttft_p{percent}_ms"] is None  # no call reported a time to first token
    assert raw["ttft_count"] == 0


EXPECTED_RAW: dict[str, Any] = {
    "events": 6,
    "errors": 1,
    "accepted": 3,
    "rejected": 2,
    "acceptance_unknown": 1,
    "input_tokens": 3100,
    "output_tokens": 520,  # 200 + 100 + 0 + 150 + 50 + 20
    "cache_read_tokens": 800,
    "cache_creation_tokens": 0,
    "total_tokens": 4420,
    "cost_usd": 1.5,
    "developer_cost_usd": 1.25,
    "lines_suggested": 25,  # 10 + 5 + 4 + 6
    "lines_accepted": 18,
    "latency_count": 6,
    "active_developers": 2,
    "active_developer_hours": 4,
    "developer_days": 3,
    "sessions": 4,
    "developer_sessions": 3,
    "policy_active": True,
    "policy_calls": 6,
    "compliant_calls": 5,
    "commits": 3,
    "prs_opened": 4,  # created in the window: 2, 3, 4, 5
    "prs_merged": 3,
    "prs_seen": 5,
    "prs_resolved": 4,
    "prs_reworked": 1,
    "pr_merge_hours_median": 24.0,
}


async def test_filters_by_developer_and_model(harness: Harness, dataset: Dataset) -> None:
    alice = (
        await harness.client.get(
            dataset.url("/raw"),
            params={**dataset.window, "developer": "alice"},
            headers=dataset.headers,
        )
    ).json()
    # e1, e2, e3; commits c1 and c3 ("Alice"); PRs 1 and 2 merged; session s1 in 2 hours.
    assert (alice["events"], alice["accepted"], alice["rejected"], alice["errors"]) == (3, 1, 1, 1)
    assert (alice["commits"], alice["prs_merged"], alice["sessions"]) == (2, 2, 1)
    assert alice["active_developer_hours"] == 2
    by_model = await harness.client.get(
        dataset.url(), params={**dataset.window, "model": "gpt-4o"}, headers=dataset.headers
    )
    kpis = _by_name(by_model.json())
    # e1, e2, e4 (e6 was recorded as "openai/gpt-4o"): accepted 2 of 3 decided.
    assert kpis["acceptance_rate"]["value"] == pytest.approx(2 / 3)
    assert kpis["model_policy_compliance"]["value"] == 1.0
    # Sessions span models, so this KPI is not computed under a model filter.
    assert kpis["sessions_per_developer_hour"]["value"] is None
    assert kpis["sessions_per_developer_hour"]["status"] == "insufficient_data"


async def test_empty_policy_means_every_call_complies(harness: Harness) -> None:
    project = await analytics_project(harness)
    now = harness.clock.now()
    await harness.client.post(
        f"{project.base}/ingest/events",
        json=[event(1, now - H, response_model="anything-goes")],
        headers={"X-API-Key": project.ingest_key},
    )
    body = (
        await harness.client.get(f"{project.base}/metrics", headers=project.owner.headers)
    ).json()
    compliance = _by_name(body)["model_policy_compliance"]
    assert (compliance["value"], compliance["sample_size"]) == (1.0, 1)


async def test_status_follows_each_kpis_direction(harness: Harness, dataset: Dataset) -> None:
    """error_rate (lower is better) is 1/6 = 0.167 and acceptance_rate (higher is better)
    is 0.6: moving the thresholds around them walks both through every status."""
    cases = [
        # error_rate thresholds, acceptance_rate thresholds, expected statuses
        ((0.20, 0.30), (0.5, 0.4), ("good", "good")),
        ((0.10, 0.20), (0.7, 0.5), ("warning", "warning")),
        ((0.05, 0.10), (0.9, 0.8), ("critical", "critical")),
    ]
    for (error_good, error_warning), (accept_good, accept_warning), statuses in cases:
        targets = {
            "error_rate": {"good": error_good, "warning": error_warning, "min_sample": 1},
            "acceptance_rate": {"good": accept_good, "warning": accept_warning, "min_sample": 1},
        }
        put = await harness.client.put(
            dataset.url("/targets"), json={"targets": targets}, headers=dataset.headers
        )
        assert put.status_code == 200, put.text
        kpis = _by_name(
            (
                await harness.client.get(
                    dataset.url(), params=dataset.window, headers=dataset.headers
                )
            ).json()
        )
        assert (kpis["error_rate"]["status"], kpis["acceptance_rate"]["status"]) == statuses
        assert kpis["error_rate"]["target"] == error_good
        assert kpis["acceptance_rate"]["warning_threshold"] == accept_warning


def test_status_boundaries_and_minimum_sample() -> None:
    target = Target(good=10, warning=20, min_sample=5)
    lower = [status_of(v, 5, target, "lower_is_better") for v in (9, 10, 15, 20, 21)]
    assert lower == ["good", "good", "warning", "warning", "critical"]
    rising = Target(good=20, warning=10, min_sample=5)
    higher = [status_of(v, 5, rising, "higher_is_better") for v in (21, 20, 15, 10, 9)]
    assert higher == ["good", "good", "warning", "warning", "critical"]
    assert status_of(15, 4, target, "lower_is_better") == "insufficient_data"
    assert status_of(None, 100, target, "lower_is_better") == "insufficient_data"


async def test_empty_project_has_insufficient_data_everywhere(harness: Harness) -> None:
    project = await analytics_project(harness)
    response = await harness.client.get(
        f"{project.base}/metrics", headers={"X-API-Key": project.read_key}
    )
    assert response.status_code == 200, response.text
    kpis = _by_name(response.json())
    assert {kpi["status"] for kpi in kpis.values()} == {"insufficient_data"}
    assert {kpi["sample_size"] for kpi in kpis.values()} == {0}
    # Rates over the window's length are a true zero; every other KPI has no value.
    assert {name for name, kpi in kpis.items() if kpi["value"] is not None} == {
        "pr_throughput",
        "commit_frequency",
    }
    body = response.json()
    until = datetime.fromisoformat(body["until"])
    assert until == harness.clock.now()
    assert until - datetime.fromisoformat(body["since"]) == timedelta(days=30)


async def _series(h: Harness, ds: Dataset, **params: Any) -> httpx.Response:
    return await h.client.get(ds.url("/timeseries"), params=params, headers=ds.headers)


def _values(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    return [point["value"] for point in response.json()["points"]]


async def test_timeseries_are_zero_filled(harness: Harness, dataset: Dataset) -> None:
    day = dataset.day
    days = {"since": (day - D).isoformat(), "until": (day + 3 * D).isoformat()}
    by_day = await _series(harness, dataset, metric="events", interval="day", **days)
    assert [p["start"] for p in by_day.json()["points"]] == [
        (day + offset * D).isoformat().replace("+00:00", "Z") for offset in range(-1, 3)
    ]
    # T: e1-e4; T+1: e5, e6; the days around are empty, not missing.
    assert _values(by_day) == [0, 4, 2, 0]
    cost = await _series(harness, dataset, metric="cost_usd", interval="day", **days)
    assert _values(cost) == [0, 1.125, 0.375, 0]  # 0.5+0.25+0.25+0.125; 0.125+0.25
    # T: accepted e1, e4 of decided e1, e2, e4; T+1: e5 of e5, e6. No calls: no rate.
    acceptance = await _series(harness, dataset, metric="acceptance_rate", **days)
    assert _values(acceptance) == [None, 2 / 3, 0.5, None]
    # T: 120, 450, 900, 2500 (rank 0.95 x 3 -> 900); T+1: 40, 7000 (rank 0.95 -> 40).
    p95 = _values(await _series(harness, dataset, metric="latency_p95", **days))
    assert (p95[0], p95[3]) == (None, None)
    assert p95[1] == pytest.approx(sketch_percentile([120, 450, 900, 2500], 95), rel=0.01)
    assert p95[2] == pytest.approx(sketch_percentile([40, 7000], 95), rel=0.01)

    hours = {"since": (day + 8 * H).isoformat(), "until": (day + 11 * H).isoformat()}
    events = await _series(harness, dataset, metric="events", interval="hour", **hours)
    assert _values(events) == [0, 3, 1]  # 08:00; 09:00 e1, e2, e4; 10:00 e3
    developers = await _series(
        harness, dataset, metric="active_developers", interval="hour", **hours
    )
    assert _values(developers) == [0, 2, 1]
    # Sessions by their start: s1 (09:05) and s3 (09:30).
    sessions = await _series(harness, dataset, metric="sessions", interval="hour", **hours)
    assert _values(sessions) == [0, 2, 0]
    by_day_sessions = await _series(harness, dataset, metric="sessions", **days)
    assert _values(by_day_sessions) == [0, 2, 2, 0]

    # ISO weeks start on Monday: T - 2 is a Sunday (week of T - 8), T - 1 a Monday.
    weeks = {"since": (day - 2 * D).isoformat(), "until": (day + 3 * D).isoformat()}
    by_week = await _series(harness, dataset, metric="events", interval="week", **weeks)
    assert [p["start"][:10] for p in by_week.json()["points"]] == [
        (day - 8 * D).date().isoformat(),
        (day - D).date().isoformat(),
    ]
    assert _values(by_week) == [0, 6]

    alice = await _series(harness, dataset, metric="events", developer="alice", **days)
    assert _values(alice) == [0, 3, 0, 0]


async def test_timeseries_validation(harness: Harness, dataset: Dataset) -> None:
    now = harness.clock.now()
    too_fine = await _series(
        harness,
        dataset,
        interval="hour",
        since=(now - 100 * D).isoformat(),
        until=now.isoformat(),
    )
    assert too_fine.status_code == 422
    assert too_fine.json()["code"] == "metrics.too_many_buckets"
    unknown = await _series(harness, dataset, metric="vibes")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "validation.failed")
    bad_interval = await _series(harness, dataset, interval="fortnight")
    assert bad_interval.status_code == 422
    sessions_by_model = await _series(harness, dataset, metric="sessions", model="gpt-4o")
    assert sessions_by_model.json()["code"] == "metrics.unsupported_filter"


@pytest.mark.parametrize("suffix", ["", "/raw", "/timeseries"])
async def test_window_validation_answers_problems(
    harness: Harness, dataset: Dataset, suffix: str
) -> None:
    now = harness.clock.now()
    cases = [
        ({"since": now.isoformat(), "until": (now - D).isoformat()}, "analytics.invalid_window"),
        ({"since": now.isoformat(), "until": now.isoformat()}, "analytics.invalid_window"),
        ({"since": (now - 400 * D).isoformat()}, "analytics.invalid_window"),
        ({"since": (now + D).isoformat()}, "analytics.invalid_window"),  # after the default until
        ({"since": "0001-01-01T00:00", "until": "0001-01-02T00:00"}, "analytics.invalid_window"),
        ({"until": "0001-01-02T00:00:00"}, "analytics.invalid_window"),
        ({"since": "9999-12-31T23:00:00"}, "analytics.invalid_window"),
        ({"since": "yesterday"}, "validation.failed"),
        ({"developer": ""}, "validation.failed"),
    ]  # fmt: skip
    for params, code in cases:
        response = await harness.client.get(
            dataset.url(suffix), params=params, headers=dataset.headers
        )
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code, params
    # A window given with an offset is the same instant in UTC.
    shifted = {
        "since": (dataset.day + 2 * H).astimezone(timezone(timedelta(hours=2))).isoformat(),
        "until": (dataset.day + 2 * D).isoformat(),
    }
    ok = await harness.client.get(dataset.url(suffix), params=shifted, headers=dataset.headers)
    assert ok.status_code == 200, ok.text


async def test_targets_get_put_and_validation(harness: Harness, dataset: Dataset) -> None:
    url = dataset.url("/targets")
    defaults = {
        t["name"]: t
        for t in (await harness.client.get(url, headers=dataset.headers)).json()["targets"]
    }
    assert list(defaults) == [kpi.name for kpi in KPIS]
    acceptance = defaults["acceptance_rate"]
    assert (acceptance["unit"], acceptance["direction"]) == ("ratio", "higher_is_better")
    assert (acceptance["good"], acceptance["warning"], acceptance["min_sample"]) == (0.3, 0.2, 20)
    assert acceptance["customized"] is False
    assert (defaults["error_rate"]["good"], defaults["error_rate"]["warning"]) == (0.02, 0.05)
    assert defaults["latency_p95"]["good"] == 5000

    put = await harness.client.put(
        url,
        json={"targets": {"acceptance_rate": {"good": 0.4}, "latency_p95": {"warning": 8000}}},
        headers=dataset.headers,
    )
    assert put.status_code == 200, put.text
    stored = {
        t["name"]: t
        for t in (await harness.client.get(url, headers=dataset.headers)).json()["targets"]
    }
    assert (stored["acceptance_rate"]["good"], stored["acceptance_rate"]["warning"]) == (0.4, 0.2)
    assert stored["acceptance_rate"]["customized"] is True
    assert (stored["latency_p95"]["good"], stored["latency_p95"]["warning"]) == (5000, 8000)
    assert stored["error_rate"]["customized"] is False
    kpis = _by_name(
        (
            await harness.client.get(dataset.url(), params=dataset.window, headers=dataset.headers)
        ).json()
    )
    assert kpis["acceptance_rate"]["target"] == 0.4
    assert kpis["latency_p95"]["warning_threshold"] == 8000

    invalid = [
        ({"no_such_kpi": {"good": 1}}, "metrics.unknown_kpi"),
        ({"acceptance_rate": {"good": 0.1, "warning": 0.2}}, "metrics.invalid_target"),
        ({"error_rate": {"good": 0.1, "warning": 0.05}}, "metrics.invalid_target"),
        ({"error_rate": {"good": 0.01, "warning": 1.5}}, "metrics.invalid_target"),
        # PUT replaces: latency_p95's warning is back to its default 10000, below 12000.
        ({"latency_p95": {"good": 12000}}, "metrics.invalid_target"),
        ({"acceptance_rate": {"good": -0.1}}, "validation.failed"),
        ({"acceptance_rate": {"min_sample": 0}}, "validation.failed"),
        ({"acceptance_rate": {"goal": 0.5}}, "validation.failed"),
    ]  # fmt: skip
    for targets, code in invalid:
        response = await harness.client.put(url, json={"targets": targets}, headers=dataset.headers)
        assert response.status_code == 422, (targets, response.text)
        assert response.json()["code"] == code, targets
    unknown = await harness.client.put(
        url, json={"targets": {"no_such_kpi": {"good": 1}}}, headers=dataset.headers
    )
    assert "acceptance_rate" in unknown.json()["allowed"]

    # PUT replaces: an empty mapping restores every default.
    reset = await harness.client.put(url, json={"targets": {}}, headers=dataset.headers)
    assert not any(t["customized"] for t in reset.json()["targets"])
    read_key = await harness.client.put(
        url, json={"targets": {}}, headers={"X-API-Key": dataset.project.read_key}
    )
    assert read_key.status_code == 403


# --- prodlens report ---------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_env(harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the test's database from the environment, in a directory without `.env`."""
    monkeypatch.chdir(tmp_path)
    for name in ("REDIS_URL", "PRODLENS_ENV", "PRODLENS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", harness.settings.database_url)


async def _report(*args: str) -> Any:
    # The command runs its own event loop (asyncio.run): give it a thread of its own.
    return await asyncio.to_thread(runner.invoke, cli, ["report", *args])


@pytest.mark.usefixtures("cli_env")
async def test_report_command_prints_the_same_kpis(dataset: Dataset) -> None:
    window = ["--since", dataset.window["since"], "--until", dataset.window["until"]]
    as_json = await _report("--project", dataset.project.project_id, *window, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    kpis = _by_name(json.loads(as_json.stdout))
    for name, (value, sample_size, status) in EXPECTED.items():
        assert kpis[name]["value"] == _expected(name, value), name
        assert (kpis[name]["sample_size"], kpis[name]["status"]) == (sample_size, status)

    as_csv = await _report("--project", "copilot-pilot", *window, "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert float(rows["acceptance_rate"]["value"]) == 0.6
    assert rows["sessions_per_developer_hour"]["value"] == "0.75"
    assert rows["commit_frequency"]["status"] == "warning"

    table = await _report("--project", "copilot-pilot", *window)
    assert table.exit_code == 0, table.output
    assert "Acceptance rate" in table.stdout
    assert "60.0%" in table.stdout
    assert "Commit frequency" in table.stdout

    alice = await _report(
        "--project", "copilot-pilot", *window, "--developer", "alice", "--format", "json"
    )
    assert _by_name(json.loads(alice.stdout))["acceptance_rate"]["value"] == 0.5


@pytest.mark.usefixtures("cli_env")
async def test_report_command_explains_bad_input(dataset: Dataset) -> None:
    missing = await _report("--project", "nope", "--since", "2025-01-01", "--until", "2025-01-02")
    assert missing.exit_code == 1
    assert "No project" in missing.output
    backwards = await _report(
        "--project", "copilot-pilot", "--since", "2025-01-02", "--until", "2025-01-01"
    )
    assert backwards.exit_code == 2
    assert "must be before" in backwards.output
    garbled = await _report("--project", "copilot-pilot", "--since", "last week")
    assert garbled.exit_code == 2
    assert "ISO 8601" in garbled.output
    for result in (missing, backwards, garbled):
        assert "Traceback" not in result.output
