"""Intervention analysis: before/after an adoption date, against the developers who did
not adopt (difference-in-differences) or against the team's own trend.

Usage is generated like a real team's: Monday-Friday working weeks with a little
weekend activity (which the calendar leaves out), developers of different
intensity, Poisson counts with day-to-day noise and team-wide busy and quiet days.
Seeded generators, and an adoption date on a Monday: every run sees the same
numbers, whatever the day. An interval misses its truth 5 % of the time by design,
so a fixed seed can only show one draw: the seeds here are the first ones tried, the
effect sizes were chosen by simulation so that each test passes for 9 seeds in 10 or
more, and the calibration tests at the end check, on 40 datasets each and
without HTTP, that intervals cover the truth about as often as they claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest

from prodlens.analytics.calendar import WorkCalendar
from prodlens.analytics.insights import interventions
from prodlens.analytics.models import Commit
from prodlens.analytics.schemas import InterventionMetric
from tests.analytics.helpers import AnalyticsProject, analytics_project, event, ingest_all
from tests.harness import Harness

DAYS = 28  # each period: four whole weeks, so 20 working days
# (developer, day) -> expected calls on that day if it is a working day
Rate = Callable[[str, date], float]


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


def adoption_day(harness: Harness, days: int = DAYS) -> date:
    """A Monday D whose after period (four whole weeks) is over: the same weekday
    layout, hence the same generated data, whatever day the tests run."""
    latest = harness.clock.now().date() - timedelta(days=days)
    return latest - timedelta(days=latest.weekday())


def period_days(on: date, days: int = DAYS) -> list[date]:
    start = on - timedelta(days=days)
    return [start + timedelta(days=offset) for offset in range(2 * days)]


def simulate(
    rng: np.random.Generator, developers: list[str], days: list[date], rate: Rate
) -> dict[str, dict[date, int]]:
    """Calls per developer and day: Poisson around `rate`, times a team-wide factor of
    the day and a developer's own factor of the day; weekends are nearly idle."""
    team_day = {day: rng.lognormal(-0.02, 0.2) for day in days}
    calls: dict[str, dict[date, int]] = {}
    for developer in developers:
        for day in days:
            expected = rate(developer, day) if day.weekday() < 5 else 0.4
            noise = team_day[day] * rng.lognormal(-0.045, 0.3)
            calls.setdefault(developer, {})[day] = int(rng.poisson(expected * noise))
    return calls


async def ingest(
    harness: Harness,
    project: AnalyticsProject,
    rng: np.random.Generator,
    calls: Mapping[str, Mapping[date, int]],
) -> None:
    batch: list[dict[str, Any]] = []
    for developer, by_day in calls.items():
        for day, count in by_day.items():
            for index in range(count):
                at = datetime.combine(day, time(8), tzinfo=UTC) + timedelta(minutes=4 * index)
                batch.append(
                    event(
                        len(batch),
                        at,
                        event_id=f"{developer}-{day}-{index}",
                        developer_id=developer,
                        cost_usd=round(float(rng.uniform(0.01, 0.03)), 6),
                        accepted=bool(rng.random() < 0.3),
                        latency_ms=float(rng.gamma(4, 300)),
                    )
                )
    await ingest_all(harness, project, batch)


async def analysis(harness: Harness, project: AnalyticsProject, **params: Any) -> dict[str, Any]:
    response = await harness.client.get(
        f"{project.base}/insights/interventions",
        params=params,
        headers={"X-API-Key": project.read_key},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def add_commits(
    harness: Harness, project: AnalyticsProject, commits: Mapping[str, Mapping[date, int]]
) -> None:
    async with harness.app.state.database.sessionmaker() as session:
        for author, by_day in commits.items():
            for day, count in by_day.items():
                for index in range(count):
                    session.add(
                        Commit(
                            project_id=project.project_id,
                            repo="acme/app",
                            sha=f"{author}-{day:%Y%m%d}-{index}",
                            author=author,
                            message="work",
                            committed_at=datetime.combine(day, time(14), tzinfo=UTC),
                        )
                    )
        await session.commit()


def effect_of(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(effect for effect in body["effects"] if effect["name"] == name)


# --- difference-in-differences ----------------------------------------------------------

ADOPTERS = [f"adopter-{n}" for n in range(8)]
OTHERS = [f"other-{n}" for n in range(8)]


@dataclass(frozen=True)
class TeamRates:
    """Each developer's working-day rate is their base (8-12 calls); from D on, times
    1 + common for everyone and 1 + common + lift for the adopters."""

    on: date
    lift: float
    common: float
    base: dict[str, float]

    @classmethod
    def draw(cls, rng: np.random.Generator, on: date, *, lift: float, common: float) -> TeamRates:
        base = {developer: float(rng.uniform(8, 12)) for developer in ADOPTERS + OTHERS}
        return cls(on, lift, common, base)

    def __call__(self, developer: str, day: date) -> float:
        if day < self.on:
            return self.base[developer]
        lift = self.lift if developer in ADOPTERS else 0.0
        return self.base[developer] * (1 + self.common + lift)

    def planted(self) -> tuple[float, float]:
        """The expected difference-in-differences, and the adopters' own change."""
        adopters = float(np.mean([self.base[d] * (self.common + self.lift) for d in ADOPTERS]))
        others = float(np.mean([self.base[d] * self.common for d in OTHERS]))
        return adopters - others, adopters


async def test_planted_effect_is_found_net_of_the_common_shift(
    harness: Harness, project: AnalyticsProject
) -> None:
    """Adopters +60 % on D, everyone +50 %: the interval holds the +60 % (in calls per
    working day), not the adopters' own change of +110 %."""
    rng = np.random.default_rng(2026)
    on = adoption_day(harness)
    rate = TeamRates.draw(rng, on, lift=0.6, common=0.5)
    await ingest(harness, project, rng, simulate(rng, ADOPTERS + OTHERS, period_days(on), rate))
    truth, naive_truth = rate.planted()
    # Commits by GitHub login (any case): adopters one more a working day from D on.
    await add_commits(
        harness,
        project,
        {
            developer.upper(): {
                day: int(rng.poisson(1 + (developer in ADOPTERS and day >= on)))
                for day in period_days(on)
                if day.weekday() < 5
            }
            for developer in ADOPTERS + OTHERS
        },
    )

    body = await analysis(
        harness, project, date=on.isoformat(), adopters=",".join(ADOPTERS), days=DAYS
    )
    assert body["observational"] is True
    assert body["status"] == "ok"
    assert body["before"] == {
        "start": (on - timedelta(days=DAYS)).isoformat(),
        "end": on.isoformat(),
        "working_days": 20,
    }
    assert body["after"]["working_days"] == 20
    assert body["groups"]["adopters"] == sorted(ADOPTERS)
    assert body["groups"]["comparison"] == sorted(OTHERS)
    assert body["calendar"] == {"working_days": [0, 1, 2, 3, 4], "holidays": []}

    events = effect_of(body, "events_per_working_day")
    assert events["method"] == "difference_in_differences"
    assert events["status"] == "ok"
    assert (events["n_adopters"], events["n_comparison"]) == (8, 8)
    assert (events["before_days"], events["after_days"]) == (20, 20)
    assert events["ci_low"] <= truth <= events["ci_high"]
    assert events["ci_low"] > 0
    assert events["p"] < 0.01
    own_change = events["adopters_after"] - events["adopters_before"]
    others_change = events["comparison_after"] - events["comparison_before"]
    assert events["effect"] == pytest.approx(own_change - others_change)
    # The adopters' naive before/after carries the team-wide +50 %: outside the interval.
    assert own_change > events["ci_high"]
    assert own_change == pytest.approx(naive_truth, rel=0.25)
    assert "observational" in events["message"].lower()
    assert "8 adopters" in events["message"]

    cost = effect_of(body, "cost_per_working_day")
    assert cost["method"] == "difference_in_differences"
    assert cost["ci_low"] <= truth * 0.02 <= cost["ci_high"]  # $0.02 a call on average
    assert cost["ci_low"] > 0
    # Ratios are the periods' sums divided: 30 % of calls accepted, 1.2 s mean latency.
    acceptance = effect_of(body, "acceptance_rate")
    assert acceptance["status"] == "ok"
    assert 0.25 < acceptance["adopters_before"] < 0.35
    latency = effect_of(body, "mean_latency_ms")
    assert 1100 < latency["comparison_after"] < 1300
    commits = effect_of(body, "commits_per_working_day")
    assert commits["method"] == "difference_in_differences"
    assert commits["ci_low"] <= 1 <= commits["ci_high"]
    assert commits["ci_low"] > 0


async def test_no_effect_when_both_groups_follow_the_same_change(
    harness: Harness, project: AnalyticsProject
) -> None:
    """Everyone +30 % on D, adopters nothing more: the interval holds 0."""
    rng = np.random.default_rng(7)
    on = adoption_day(harness)
    rate = TeamRates.draw(rng, on, lift=0.0, common=0.3)
    await ingest(harness, project, rng, simulate(rng, ADOPTERS + OTHERS, period_days(on), rate))

    body = await analysis(
        harness,
        project,
        date=on.isoformat(),
        adopters=",".join(ADOPTERS[:5]),  # only some of them are named
        metric=["events_per_working_day", "cost_per_working_day"],
    )
    assert [effect["name"] for effect in body["effects"]] == [
        "events_per_working_day",
        "cost_per_working_day",
    ]
    for effect in body["effects"]:
        assert effect["method"] == "difference_in_differences"
        assert (effect["n_adopters"], effect["n_comparison"]) == (5, 11)
        assert effect["ci_low"] <= 0 <= effect["ci_high"], effect
        # ...while the adopters' own before/after shows the common +30 %.
        assert effect["adopters_after"] > effect["adopters_before"] * 1.15


# --- own trend ----------------------------------------------------------------------------

TEAM = [f"dev-{n}" for n in range(6)]
# Eight weeks a period: team-wide busy and quiet days make the level of a few weeks
# uncertain (an interval of about +-3 calls on 28 days, +-2 on 56).
TREND_DAYS = 56


def trend_rate(on: date, *, shift: float, days: int = DAYS) -> Rate:
    """Calls per developer and working day: 6 plus 0.1 a day (a team ramping up),
    plus `shift` from D on."""
    start = on - timedelta(days=days)

    def rate(developer: str, day: date) -> float:
        return 6 + 0.1 * (day - start).days + (shift if day >= on else 0.0)

    return rate


async def test_own_trend_recovers_a_level_shift(
    harness: Harness, project: AnalyticsProject
) -> None:
    """+8 calls per developer and working day from D on (about +60 %), on a rising trend."""
    rng = np.random.default_rng(11)
    on = adoption_day(harness, TREND_DAYS)
    rate = trend_rate(on, shift=8, days=TREND_DAYS)
    await ingest(harness, project, rng, simulate(rng, TEAM, period_days(on, TREND_DAYS), rate))

    body = await analysis(
        harness, project, date=on.isoformat(), days=TREND_DAYS, metric="events_per_working_day"
    )
    assert body["groups"] == {
        "adopters": [],
        "comparison": [],
        "comparison_count": 0,
        "comparison_truncated": False,
    }
    (events,) = body["effects"]
    assert events["method"] == "own_trend"
    assert "No adopters named" in events["method_reason"]
    assert events["status"] == "ok"
    assert (events["n_adopters"], events["n_comparison"]) == (6, 0)
    assert events["comparison_before"] is None
    assert (events["before_days"], events["after_days"]) == (40, 40)
    assert events["hac_lags"] == 3  # floor(4 (80 / 100)^(2/9))
    assert events["ci_low"] <= 8 <= events["ci_high"]
    assert events["ci_low"] > 0
    # A plain before/after adds the trend to the shift: 56 days x 0.1 more.
    naive = events["adopters_after"] - events["adopters_before"]
    assert naive == pytest.approx(8 + 5.6, rel=0.3)


async def test_own_trend_without_a_shift_finds_none(
    harness: Harness, project: AnalyticsProject
) -> None:
    rng = np.random.default_rng(12)
    on = adoption_day(harness, TREND_DAYS)
    rate = trend_rate(on, shift=0, days=TREND_DAYS)
    await ingest(harness, project, rng, simulate(rng, TEAM, period_days(on, TREND_DAYS), rate))

    body = await analysis(harness, project, date=on.isoformat(), days=TREND_DAYS)
    events = effect_of(body, "events_per_working_day")
    assert events["method"] == "own_trend"
    assert events["ci_low"] <= 0 <= events["ci_high"]
    assert events["adopters_after"] > events["adopters_before"] + 4  # the trend alone
    # No commits in the project: said, not computed as zeros.
    commits = effect_of(body, "commits_per_working_day")
    assert commits["status"] == "insufficient_data"
    assert commits["effect"] is None
    assert "no commits" in commits["message"]


async def test_too_few_others_falls_back_to_the_adopters_own_trend(
    harness: Harness, project: AnalyticsProject
) -> None:
    rng = np.random.default_rng(13)
    on = adoption_day(harness)
    calls = simulate(rng, TEAM, period_days(on), trend_rate(on, shift=0))
    await ingest(harness, project, rng, calls)

    body = await analysis(
        harness, project, date=on.isoformat(), adopters=",".join(TEAM[:5]), metric="error_rate"
    )
    assert body["groups"]["comparison"] == [TEAM[5]]
    (errors,) = body["effects"]
    assert errors["method"] == "own_trend"
    assert "the adopters against their own trend" in errors["method_reason"]
    assert errors["n_adopters"] == 5
    # No call failed: a constant series has no interval to give.
    assert errors["status"] == "insufficient_data"
    assert errors["effect"] is errors["ci_low"] is errors["p"] is None


# --- insufficient data, calendar ---------------------------------------------------------


async def test_a_short_after_period_is_insufficient_data(
    harness: Harness, project: AnalyticsProject
) -> None:
    rng = np.random.default_rng(14)
    today = harness.clock.now().date()
    on = today - timedelta(days=6)  # at most 5 working days so far
    days = [on - timedelta(days=DAYS) + timedelta(days=n) for n in range(DAYS + 6)]
    await ingest(harness, project, rng, simulate(rng, TEAM, days, lambda _d, _day: 8.0))

    body = await analysis(harness, project, date=on.isoformat(), adopters="dev-0,dev-1")
    assert body["status"] == "insufficient_data"
    assert body["after"]["end"] == today.isoformat()
    assert body["after"]["working_days"] < 7
    assert len(body["effects"]) == len(interventions.KPIS)
    for effect in body["effects"]:
        assert effect["status"] == "insufficient_data"
        numbers = ("adopters_before", "adopters_after", "comparison_before", "effect")
        assert all(effect[name] is None for name in (*numbers, "ci_low", "ci_high", "p"))
        assert "at least 7 working days" in effect["message"]


async def test_holidays_are_not_days_of_the_periods(
    harness: Harness, project: AnalyticsProject
) -> None:
    rng = np.random.default_rng(15)
    on = adoption_day(harness)
    await ingest(harness, project, rng, simulate(rng, TEAM, period_days(on), lambda _d, _day: 8.0))
    holiday = next(
        on + timedelta(days=n) for n in range(7) if (on + timedelta(days=n)).weekday() < 5
    )
    calendar = await harness.client.put(
        f"{project.base}/calendar",
        json={"working_days": [0, 1, 2, 3, 4], "holidays": [holiday.isoformat()]},
        headers=project.owner.headers,
    )
    assert calendar.status_code == 200, calendar.text

    body = await analysis(harness, project, date=on.isoformat())
    assert body["calendar"]["holidays"] == [holiday.isoformat()]
    assert body["after"]["working_days"] == 19
    assert effect_of(body, "events_per_working_day")["after_days"] == 19


# --- validation and access ----------------------------------------------------------------


async def test_validation(harness: Harness, project: AnalyticsProject) -> None:
    rng = np.random.default_rng(16)
    on = adoption_day(harness)
    await ingest(harness, project, rng, {"ada": {on: 3}, "bob": {on: 2}})
    url = f"{project.base}/insights/interventions"
    key = {"X-API-Key": project.read_key}

    missing = await harness.client.get(url, headers=key)
    assert missing.status_code == 422
    assert missing.json()["code"] == "validation.failed"
    assert missing.json()["errors"][0]["field"] == "query.date"

    unknown = await harness.client.get(
        url, params={"date": str(on), "adopters": "ada, nobody,ghost"}, headers=key
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "interventions.unknown_adopters"
    assert unknown.json()["unknown"] == ["ghost", "nobody"]

    many = ",".join(f"dev-{n}" for n in range(interventions.MAX_ADOPTERS + 1))
    too_many = await harness.client.get(
        url, params={"date": str(on), "adopters": many}, headers=key
    )
    assert too_many.json()["code"] == "interventions.invalid_adopters"
    blank = await harness.client.get(url, params={"date": str(on), "adopters": " ,"}, headers=key)
    assert blank.json()["code"] == "interventions.invalid_adopters"

    invalid: list[dict[str, str | int]] = [
        {"date": str(on), "days": 6},
        {"date": str(on), "days": 181},
        {"date": str(on), "metric": "happiness"},
        {"date": "yesterday"},
    ]
    for params in invalid:
        response = await harness.client.get(url, params=params, headers=key)
        assert response.json()["code"] == "validation.failed", params
    ancient = await harness.client.get(url, params={"date": "2000-01-10"}, headers=key)
    assert ancient.json()["code"] == "analytics.invalid_window"


async def test_a_viewer_reads_it_and_a_stranger_does_not_see_it(
    harness: Harness, project: AnalyticsProject
) -> None:
    on = adoption_day(harness)
    viewer = await harness.signup("viewer")
    stranger = await harness.signup("stranger")
    await harness.client.post(
        f"{project.base}/members",
        json={"user": "viewer", "role": "viewer"},
        headers=project.owner.headers,
    )
    url = f"{project.base}/insights/interventions?date={on}"

    seen = await harness.client.get(url, headers=viewer.headers)
    assert seen.status_code == 200, seen.text
    assert seen.json()["observational"] is True
    hidden = await harness.client.get(url, headers=stranger.headers)
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "projects.not_found"


# --- calibration (no HTTP) ----------------------------------------------------------------

DATASETS = 40
# Nominal 95 %. With 40 datasets at a true 95 %, 32 or fewer covered is a 1-in-3,000
# event; below 80 % means the intervals are too narrow, not bad luck.
MIN_COVERAGE = 0.8


def inputs_of(
    calls: Mapping[str, Mapping[date, int]],
    on: date,
    adopters: list[str],
    metric: InterventionMetric,
) -> interventions.Inputs:
    calendar = WorkCalendar()
    span = interventions.periods(on, DAYS, today=on + timedelta(days=DAYS), calendar=calendar)
    usage = {
        developer: {
            day: {"events": float(count), "cost_usd": 0.02 * count, "commits": 0.0}
            for day, count in by_day.items()
            if calendar.is_working(day)
        }
        for developer, by_day in calls.items()
    }
    return interventions.Inputs(
        span, frozenset(adopters), usage, (interventions.KPI_BY_NAME[metric],), False
    )


def test_difference_in_differences_intervals_cover_a_null_effect() -> None:
    on = date(2025, 3, 3)
    covered = 0
    for seed in range(DATASETS):
        rng = np.random.default_rng(1000 + seed)
        rate = TeamRates.draw(rng, on, lift=0.0, common=0.3)
        calls = simulate(rng, ADOPTERS + OTHERS, period_days(on), rate)
        (effect,) = interventions.analyze(
            inputs_of(calls, on, ADOPTERS[:4], "events_per_working_day")
        )
        assert effect.method == "difference_in_differences"
        assert effect.ci_low is not None
        assert effect.ci_high is not None
        covered += effect.ci_low <= 0 <= effect.ci_high
    assert covered / DATASETS >= MIN_COVERAGE


def test_own_trend_intervals_cover_a_null_effect() -> None:
    on = date(2025, 3, 3)
    covered = 0
    for seed in range(DATASETS):
        rng = np.random.default_rng(2000 + seed)
        calls = simulate(rng, TEAM, period_days(on), trend_rate(on, shift=0))
        (effect,) = interventions.analyze(inputs_of(calls, on, [], "events_per_working_day"))
        assert effect.method == "own_trend"
        assert effect.ci_low is not None
        assert effect.ci_high is not None
        covered += effect.ci_low <= 0 <= effect.ci_high
    assert covered / DATASETS >= MIN_COVERAGE
