"""Latency and time-to-first-token percentiles from the sketches are within 2 % of the
exact ones (numpy on the raw values) over a window, under filters, and per time
series bucket, for lognormal, bimodal and heavy-tailed ("agent") latencies.

The sketch reports the value at rank q x (n - 1) rounded down, within 1 % (its
guarantee, checked against numpy's "lower" percentile); numpy's default
interpolates between that value and the next, which is why there are enough events
that neighbouring order statistics lie well within 1 % of each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from prodlens.analytics.ingest.events import MAX_BATCH
from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness

H = timedelta(hours=1)
D = timedelta(days=1)
PER_MODEL = 6000
PERCENTS = (50, 90, 95, 99)
# Data whose neighbouring order statistics, at every percentile checked below, lie
# within 0.7 % of each other (`_assert_close` checks it), so numpy's interpolation
# adds at most that to the sketch's 1 %.
SEED = 8


def _latencies(rng: np.random.Generator, model: str, n: int) -> np.ndarray:
    if model == "fast":  # lognormal around 1.5 s
        return rng.lognormal(np.log(1500), 0.6, n)
    if model == "mixed":  # bimodal: cache hits around 300 ms, full answers around 8 s
        slow = rng.random(n) < 0.4
        return np.where(
            slow, rng.lognormal(np.log(8000), 0.3, n), rng.lognormal(np.log(300), 0.25, n)
        )
    # agent runs: median 20 s, a long tail up to 30 minutes
    return np.minimum(rng.lognormal(np.log(20_000), 1.2, n), 1_800_000)


@dataclass
class Calls:
    project: AnalyticsProject
    day: datetime  # midnight UTC; calls from day 06:00 to day + 2 06:00
    started: np.ndarray  # datetime64[us]
    latency: np.ndarray
    ttft: np.ndarray
    model: np.ndarray
    developer: np.ndarray

    def among(self, since: datetime, until: datetime, **match: str) -> np.ndarray:
        """Indices of the calls in [since, until) matching the filters."""
        start, end = (
            np.datetime64(since.replace(tzinfo=None)),
            np.datetime64(until.replace(tzinfo=None)),
        )
        chosen = (self.started >= start) & (self.started < end)
        for name, value in match.items():
            chosen &= getattr(self, name) == value
        return np.flatnonzero(chosen)


async def _load(harness: Harness) -> Calls:
    project = await analytics_project(harness)
    now = harness.clock.now()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) - 4 * D
    rng = np.random.default_rng(SEED)
    models = ("fast", "mixed", "agent")
    latency = np.concatenate([_latencies(rng, model, PER_MODEL) for model in models])
    n = len(latency)
    ttft = latency * rng.uniform(0.05, 0.3, n)
    model = np.repeat(models, PER_MODEL)
    developer = np.array([f"dev-{d}" for d in rng.integers(0, 3, n)])
    offsets = rng.integers(0, int(2 * D / timedelta(microseconds=1)), n)
    first = np.datetime64(day.replace(tzinfo=None) + 6 * H)
    started = first + offsets.astype("timedelta64[us]")
    events = [
        event(
            i,
            started[i].item().replace(tzinfo=day.tzinfo),
            developer_id=str(developer[i]),
            response_model=str(model[i]),
            request_model=str(model[i]),
            latency_ms=float(latency[i]),
            ttft_ms=float(ttft[i]),
            ended_at=None,
        )
        for i in range(n)
    ]
    for start in range(0, n, MAX_BATCH):
        batch = events[start : start + MAX_BATCH]
        response = await harness.client.post(
            f"{project.base}/ingest/events", json=batch, headers={"X-API-Key": project.ingest_key}
        )
        assert response.json()["summary"]["accepted"] == len(batch), response.text
    return Calls(project, day, started, latency, ttft, model, developer)


@pytest.fixture
async def calls(harness: Harness) -> Calls:
    return await _load(harness)


def _assert_close(measured: float | None, values: np.ndarray, percent: int, what: str) -> None:
    assert measured is not None, what
    exact = float(np.percentile(values, percent))
    at_rank = float(np.percentile(values, percent, method="lower"))
    assert float(np.percentile(values, percent, method="higher")) / at_rank < 1.008, what
    assert measured == pytest.approx(exact, rel=0.02), what
    assert measured == pytest.approx(at_rank, rel=0.01), what


async def _get(harness: Harness, calls: Calls, suffix: str, **params: Any) -> dict[str, Any]:
    response = await harness.client.get(
        f"{calls.project.base}/metrics{suffix}",
        params={
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in params.items()
        },
        headers=calls.project.owner.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_percentiles_match_the_raw_values(harness: Harness, calls: Calls) -> None:
    # Edges inside hours, a whole day in the middle: every way of reading the data.
    since, until = (
        calls.day + 6 * H + timedelta(minutes=17),
        calls.day + 2 * D + 5 * H + timedelta(minutes=43),
    )
    cases: list[dict[str, str]] = [
        {},
        {"developer": "dev-1"},
        {"model": "fast"},
        {"model": "mixed"},
        {"model": "agent"},
    ]
    for filters in cases:
        match = {"developer": filters["developer"]} if "developer" in filters else {}
        match |= {"model": filters["model"]} if "model" in filters else {}
        chosen = calls.among(since, until, **match)
        raw = await _get(harness, calls, "/raw", since=since, until=until, **filters)
        assert (raw["latency_count"], raw["ttft_count"]) == (len(chosen), len(chosen)), filters
        for percent in PERCENTS:
            what = f"p{percent} {filters}"
            _assert_close(raw[f"latency_p{percent}_ms"], calls.latency[chosen], percent, what)
            _assert_close(raw[f"ttft_p{percent}_ms"], calls.ttft[chosen], percent, "ttft " + what)
        kpis = {
            kpi["name"]: kpi
            for kpi in (await _get(harness, calls, "", since=since, until=until, **filters))["kpis"]
        }
        for percent in PERCENTS:
            name = f"latency_p{percent}"
            assert kpis[name]["value"] == raw[f"{name}_ms"], (name, filters)
            assert kpis[name]["sample_size"] == len(chosen)


async def test_time_series_buckets_match_the_raw_values(harness: Harness, calls: Calls) -> None:
    whole_day = calls.day + D
    by_day = await _get(
        harness,
        calls,
        "/timeseries",
        metric="latency_p95",
        interval="day",
        since=whole_day,
        until=whole_day + D,
    )
    [point] = by_day["points"]
    _assert_close(
        point["value"], calls.latency[calls.among(whole_day, whole_day + D)], 95, "day p95"
    )

    hour = calls.day + 12 * H
    for metric in ("latency_p50", "ttft_p99"):
        series = await _get(
            harness,
            calls,
            "/timeseries",
            metric=metric,
            interval="hour",
            since=hour,
            until=hour + 2 * H,
        )
        values = calls.latency if metric.startswith("latency") else calls.ttft
        percent = int(metric.rsplit("p", 1)[1])
        for offset, point in enumerate(series["points"]):
            start = hour + offset * H
            chosen = values[calls.among(start, start + H)]
            # A few hundred calls an hour: only the sketch's own guarantee is tight here.
            at_rank = float(np.percentile(chosen, percent, method="lower"))
            assert point["value"] == pytest.approx(at_rank, rel=0.01), (metric, offset)
