"""Intervention analysis: what changed when some developers adopted a tool or a
model on a date D. Observational: a comparison of what happened, not an experiment.

Data: the daily rollups summed per developer and UTC day (and commits per author
and day), O(developers x days), never the events table. Only the working days of
the project's calendar count: a weekend or a holiday is not a day of the periods,
and calls made on one are left out; a working day without calls is a day of zero
activity. Calls without a developer id are left out (the unit is the developer).

Periods: before = [D - days, D), after = [D, D + days) clipped to yesterday (today
is not over). Either period with fewer than 7 working days: insufficient data.

Per developer and period: calls, cost and commits per working day (the period's
sum over its working days); acceptance rate, error rate and mean latency as the
ratio of the period's sums, not a mean of daily ratios. A developer takes part
when they made calls on a working day of both periods (the same people before and
after: joiners and leavers would pass for an effect).

Method, per KPI:
- Difference-in-differences, when adopters are named and at least 2 of them and
  2 other developers have the KPI in both periods. Unit: the developer, so the
  day-to-day correlation within a developer does not fake precision. Delta_i =
  after_i - before_i; effect = mean(Delta adopters) - mean(Delta others); Welch's
  standard error, t with Welch-Satterthwaite degrees of freedom (SciPy's Welch test).
- Own trend otherwise (no adopters named: the whole team; too few of either
  group: the adopters): one value per working day of both periods (per-day KPIs:
  the group's sum divided by its developers; ratios: the day's ratio of the
  group's sums, days without a denominator skipped), fitted by OLS as
  y = a + b t + c after + weekday effects; effect = c, the jump at D beyond the
  trend. Newey-West (Bartlett) standard error with floor(4 (n/100)^(2/9)) lags,
  n/(n-k) scaling (statsmodels), widened by the Kiefer-Vogelsang fixed-b factor;
  t on n - k degrees of freedom (interventions_stats.py).
Both give a 95 % confidence interval and a two-sided p. The statistics run in a
worker thread, where NumPy, SciPy and statsmodels are first imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.calendar import WorkCalendar, calendar_public, project_calendar
from prodlens.analytics.identities import IdentityMap, load_identity_map
from prodlens.analytics.models import Commit, DailyRollup
from prodlens.analytics.schemas import (
    InterventionEffect,
    InterventionGroups,
    InterventionMethod,
    InterventionMetric,
    InterventionPeriod,
    InterventionReport,
)
from prodlens.analytics.window import EARLIEST, LATEST, InvalidWindow, Window, as_date, day_of
from prodlens.analytics.window import in_whole_days as rollup_days
from prodlens.kit.errors import ProblemError
from prodlens.projects.models import Project

if TYPE_CHECKING:
    from prodlens.analytics.insights.interventions_stats import Estimate

DEFAULT_DAYS = 28
MIN_DAYS, MAX_DAYS = 7, 180
MAX_ADOPTERS = 200
MIN_WORKING_DAYS = 7
MIN_DEVELOPERS = 2  # per group, for difference-in-differences
MIN_TREND_DAYS = 3  # own trend: observations needed in each period
COMPARISON_LISTED = 100
CONFIDENCE = 0.95
OBSERVATIONAL = (
    "Observational: other changes at the same time, or who chose to adopt, can explain "
    "a difference."
)

COUNTERS = (
    "events",
    "errors",
    "accepted",
    "rejected",
    "cost_usd",
    "latency_count",
    "latency_ms_sum",
)

Counters = dict[str, float]
# developer id -> working day -> summed counters (rollup counters and "commits")
Usage = Mapping[str, Mapping[date, Mapping[str, float]]]


class UnknownAdopters(ProblemError):
    status, code, title = 422, "interventions.unknown_adopters", "Unknown adopters"


class InvalidAdopters(ProblemError):
    status, code, title = 422, "interventions.invalid_adopters", "Invalid adopters"


@dataclass(frozen=True)
class Kpi:
    name: InterventionMetric
    label: str
    unit: str
    numerator: str
    # Counters summed into the denominator; empty: a rate per working day.
    denominator: tuple[str, ...] = ()

    def value(self, sums: Mapping[str, float], days: int) -> float | None:
        if not self.denominator:
            return sums.get(self.numerator, 0.0) / days if days else None
        below = sum(sums.get(name, 0.0) for name in self.denominator)
        return sums.get(self.numerator, 0.0) / below if below else None


KPIS: tuple[Kpi, ...] = (
    Kpi("events_per_working_day", "Calls per working day", "calls/working day", "events"),
    Kpi("cost_per_working_day", "Cost per working day", "USD/working day", "cost_usd"),
    Kpi("acceptance_rate", "Acceptance rate", "ratio", "accepted", ("accepted", "rejected")),
    Kpi("error_rate", "Error rate", "ratio", "errors", ("events",)),
    Kpi("mean_latency_ms", "Mean latency", "ms", "latency_ms_sum", ("latency_count",)),
    Kpi("commits_per_working_day", "Commits per working day", "commits/working day", "commits"),
)
KPI_BY_NAME = {kpi.name: kpi for kpi in KPIS}


# --- inputs ---------------------------------------------------------------------------


def parse_adopters(raw: str | None) -> list[str]:
    """`dev1,dev2`: comma-separated, blanks around ids ignored, duplicates merged."""
    if raw is None:
        return []
    ids = sorted({part.strip() for part in raw.split(",") if part.strip()})
    if not ids:
        raise InvalidAdopters("`adopters` names no developer id.")
    if len(ids) > MAX_ADOPTERS:
        raise InvalidAdopters(
            f"At most {MAX_ADOPTERS} adopters.", extra={"max_adopters": MAX_ADOPTERS}
        )
    return ids


@dataclass(frozen=True)
class Periods:
    start: date  # first day of before
    on: date  # the adoption date: first day of after
    end: date  # exclusive end of after, clipped
    before: tuple[date, ...]  # working days
    after: tuple[date, ...]


def periods(on: date, days: int, *, today: date, calendar: WorkCalendar) -> Periods:
    start, end = on - timedelta(days=days), on + timedelta(days=days)
    if start < EARLIEST.date() or end > LATEST.date():
        raise InvalidWindow(f"The periods must lie between {EARLIEST.date()} and {LATEST.date()}.")
    end = max(on, min(end, today))

    def working(first: date, stop: date) -> tuple[date, ...]:
        span = (first + timedelta(days=offset) for offset in range((stop - first).days))
        return tuple(day for day in span if calendar.is_working(day))

    return Periods(start, on, end, working(start, on), working(on, end))


@dataclass(frozen=True)
class Inputs:
    periods: Periods
    adopters: frozenset[str]  # named; empty: own trend of the team
    usage: Usage
    metrics: tuple[Kpi, ...]
    has_commits: bool


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def _load_usage(
    session: AsyncSession,
    project_id: str,
    window: Window,
    working: frozenset[date],
    links: IdentityMap,
) -> dict[str, dict[date, Counters]]:
    columns = DailyRollup.__table__.c
    developer = links.developer_column(DailyRollup.developer_id)
    rows = await session.execute(
        select(
            developer,
            DailyRollup.period_start,
            *(func.sum(columns[name]) for name in COUNTERS),
        )
        .where(*rollup_days(DailyRollup, project_id, window), DailyRollup.developer_id != "")
        .group_by(developer, DailyRollup.period_start)
    )
    usage: dict[str, dict[date, Counters]] = {}
    for developer, start, *sums in rows:
        day = as_date(start)
        if day in working:
            counters = {name: float(value or 0) for name, value in zip(COUNTERS, sums, strict=True)}
            usage.setdefault(developer, {})[day] = counters
    return usage


async def _add_commits(
    session: AsyncSession,
    project_id: str,
    window: Window,
    working: frozenset[date],
    usage: dict[str, dict[date, Counters]],
    links: IdentityMap,
) -> bool:
    """Commits per developer and working day, by author as in the KPIs: the
    lower-cased author login equals the lower-cased developer id or one of its
    identities. True when the project has any commit in the periods."""
    day = day_of(Commit.committed_at, session.get_bind().dialect.name)
    author = func.lower(Commit.author)
    rows = await session.execute(
        select(author, day, func.count())
        .where(
            Commit.project_id == project_id,
            Commit.committed_at >= window.since,
            Commit.committed_at < window.until,
        )
        .group_by(author, day)
    )
    developers: dict[str, set[str]] = {}
    for developer in usage:
        for identity in links.identities_of(developer):
            developers.setdefault(identity.lower(), set()).add(developer)
    any_commit = False
    for login, when, count in rows:
        any_commit = True
        committed = as_date(when)
        if committed in working:
            # A day with commits and no calls still counts its commits.
            for developer in developers.get(login or "", ()):
                day_counters = usage[developer].setdefault(committed, {})
                day_counters["commits"] = day_counters.get("commits", 0.0) + float(count)
    return any_commit


async def _unknown_developers(
    session: AsyncSession, project_id: str, ids: Sequence[str], links: IdentityMap
) -> list[str]:
    identities = {
        identity: developer for developer in ids for identity in links.identities_of(developer)
    }
    rows = await session.execute(
        select(DailyRollup.developer_id)
        .where(DailyRollup.project_id == project_id, DailyRollup.developer_id.in_(identities))
        .distinct()
    )
    known = {identities[identity] for identity in rows.scalars()}
    return [developer for developer in ids if developer not in known]


async def build_report(
    session: AsyncSession,
    project: Project,
    *,
    on: date,
    adopters: Sequence[str],
    days: int,
    metrics: Sequence[InterventionMetric] | None,
    today: date,
) -> InterventionReport:
    links = await load_identity_map(session, project.id)
    # An adopter named by a linked identity is its developer.
    adopters = sorted({links.developer_of(adopter) for adopter in adopters})
    if adopters:
        unknown = await _unknown_developers(session, project.id, adopters, links)
        if unknown:
            raise UnknownAdopters(
                f"No calls from {len(unknown)} of the adopters in this project.",
                extra={"unknown": unknown},
            )
    calendar = project_calendar(project)
    span = periods(on, days, today=today, calendar=calendar)
    window = Window(_midnight(span.start), _midnight(span.end))
    working = frozenset(span.before + span.after)
    usage = await _load_usage(session, project.id, window, working, links)
    has_commits = await _add_commits(session, project.id, window, working, usage, links)
    chosen = tuple(KPI_BY_NAME[name] for name in dict.fromkeys(metrics or ())) or KPIS
    inputs = Inputs(span, frozenset(adopters), usage, chosen, has_commits)
    # SciPy holds the CPU for the whole computation: a worker thread keeps the loop free.
    effects = await anyio.to_thread.run_sync(partial(analyze, inputs))
    comparison = sorted(set(usage) - inputs.adopters) if adopters else []
    return InterventionReport(
        intervention_date=on,
        days=days,
        confidence=CONFIDENCE,
        status="ok" if any(effect.status == "ok" for effect in effects) else "insufficient_data",
        before=InterventionPeriod(start=span.start, end=on, working_days=len(span.before)),
        after=InterventionPeriod(start=on, end=span.end, working_days=len(span.after)),
        groups=InterventionGroups(
            adopters=list(adopters),
            comparison=comparison[:COMPARISON_LISTED],
            comparison_count=len(comparison),
            comparison_truncated=len(comparison) > COMPARISON_LISTED,
        ),
        calendar=calendar_public(project),
        effects=effects,
        message=_report_message(inputs, len(comparison)),
    )


def _report_message(inputs: Inputs, others: int) -> str:
    span = inputs.periods
    when = (
        f"{len(span.before)} working days before {span.on} and {len(span.after)} from it "
        f"(until {span.end}, exclusive)"
    )
    if inputs.adopters:
        named, rest = _count(len(inputs.adopters), "named adopter"), _count(others, "other")
        who = f"{named} against {rest} with calls in the periods"
    else:
        who = "the team against its own trend (no adopters named)"
    return f"Compares {who}, over {when}. {OBSERVATIONAL}"


# --- analysis (worker thread) -----------------------------------------------------------


@dataclass
class _Outcome:
    method: InterventionMethod
    reason: str
    estimate: Estimate | None = None
    missing: str = ""  # why there is no estimate
    n_adopters: int = 0
    n_comparison: int = 0
    # adopters before, after; comparison before, after
    values: tuple[float | None, ...] = (None, None, None, None)


def _add(total: Counters, counters: Mapping[str, float]) -> None:
    for name, value in counters.items():
        total[name] = total.get(name, 0.0) + value


class _Sums:
    """The counter sums the estimates need, each computed once: per developer and
    period, and per group and working day."""

    def __init__(self, inputs: Inputs) -> None:
        self.usage, span = inputs.usage, inputs.periods
        self.days = span.before + span.after
        self.periods: dict[str, tuple[Counters, Counters]] = {}
        for developer, by_day in self.usage.items():
            before: Counters = {}
            after: Counters = {}
            for days, total in ((span.before, before), (span.after, after)):
                for day in days:
                    _add(total, by_day.get(day, {}))
            self.periods[developer] = (before, after)
        self._daily: dict[tuple[str, ...], list[Counters]] = {}

    def daily(self, group: Sequence[str]) -> list[Counters]:
        """The group's sums on each working day of both periods, in order."""
        key = tuple(group)
        if key not in self._daily:
            rows: list[Counters] = []
            for day in self.days:
                total: Counters = {}
                for developer in group:
                    _add(total, self.usage[developer].get(day, {}))
                rows.append(total)
            self._daily[key] = rows
        return self._daily[key]

    def period(self, group: Sequence[str], index: int) -> Counters:
        total: Counters = {}
        for developer in group:
            _add(total, self.periods[developer][index])
        return total


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


_DEFAULT_REASON: dict[InterventionMethod, str] = {
    "difference_in_differences": "Adopters named: against the other developers.",
    "own_trend": "No adopters named: the team against its own trend.",
}


def analyze(inputs: Inputs) -> list[InterventionEffect]:
    """Every chosen KPI's estimate. Pure, but loads NumPy and SciPy: run it in a
    worker thread."""
    span = inputs.periods
    sums = _Sums(inputs)
    active = sorted(
        developer
        for developer, (before, after) in sums.periods.items()
        if before.get("events", 0) > 0 and after.get("events", 0) > 0
    )
    default: InterventionMethod = "difference_in_differences" if inputs.adopters else "own_trend"
    effects = []
    for kpi in inputs.metrics:
        if min(len(span.before), len(span.after)) < MIN_WORKING_DAYS:
            outcome = _Outcome(
                default,
                _DEFAULT_REASON[default],
                missing=f"each period needs at least {MIN_WORKING_DAYS} working days",
            )
        elif kpi.name == "commits_per_working_day" and not inputs.has_commits:
            outcome = _Outcome(
                default,
                _DEFAULT_REASON[default],
                missing="the project has no commits in the two periods (is GitHub connected?)",
            )
        else:
            outcome = _estimate(kpi, inputs, sums, active)
        effects.append(_effect(kpi, inputs, outcome))
    return effects


def _estimate(kpi: Kpi, inputs: Inputs, sums: _Sums, active: Sequence[str]) -> _Outcome:
    from prodlens.analytics.insights import interventions_stats as stats

    if not inputs.adopters:
        return _own_trend(kpi, inputs, sums, active, _DEFAULT_REASON["own_trend"])
    span = inputs.periods
    values: dict[str, tuple[float, float]] = {}
    for developer in active:
        before, after = sums.periods[developer]
        first = kpi.value(before, len(span.before))
        second = kpi.value(after, len(span.after))
        if first is not None and second is not None:
            values[developer] = (first, second)
    adopters = [d for d in values if d in inputs.adopters]
    others = [d for d in values if d not in inputs.adopters]
    if len(adopters) < MIN_DEVELOPERS or len(others) < MIN_DEVELOPERS:
        if all(d in inputs.adopters for d in active):
            reason = "No other developer made calls in both periods"
        else:
            reason = (
                f"Difference-in-differences needs {MIN_DEVELOPERS} adopters and "
                f"{MIN_DEVELOPERS} other developers with the KPI in both periods, there "
                f"are {len(adopters)} and {len(others)}"
            )
        group = [d for d in active if d in inputs.adopters]
        reason += ": the adopters against their own trend."
        return _own_trend(kpi, inputs, sums, group, reason)
    estimate = stats.welch_difference(
        [values[d][1] - values[d][0] for d in adopters],
        [values[d][1] - values[d][0] for d in others],
    )
    return _Outcome(
        "difference_in_differences",
        f"{len(adopters)} adopters and {len(others)} other developers have the KPI in both "
        "periods.",
        estimate,
        missing="" if estimate else "the changes do not vary between developers",
        n_adopters=len(adopters),
        n_comparison=len(others),
        values=tuple(
            _mean([values[d][when] for d in group])
            for group in (adopters, others)
            for when in (0, 1)
        ),
    )


def _own_trend(
    kpi: Kpi, inputs: Inputs, sums: _Sums, group: Sequence[str], reason: str
) -> _Outcome:
    from prodlens.analytics.insights import interventions_stats as stats

    span, size = inputs.periods, len(group)
    outcome = _Outcome("own_trend", reason, n_adopters=size)
    if not group:
        outcome.missing = "no developer of the group made calls in both periods"
        return outcome
    offsets: list[float] = []
    after: list[bool] = []
    weekdays: list[int] = []
    series: list[float] = []
    for day, counters in zip(sums.days, sums.daily(group), strict=True):
        # Rates per day are per developer of the group, to read like the other method.
        value = kpi.value(counters, size)
        if value is not None:
            offsets.append(float((day - span.start).days))
            after.append(day >= span.on)
            weekdays.append(day.weekday())
            series.append(value)
    if min(sum(after), len(after) - sum(after)) < MIN_TREND_DAYS:
        outcome.missing = f"fewer than {MIN_TREND_DAYS} days with a value in a period"
        return outcome
    outcome.estimate = stats.level_shift(offsets, after, weekdays, series)
    if outcome.estimate is None:
        outcome.missing = "the daily values leave nothing to estimate a shift from"
    outcome.values = (
        kpi.value(sums.period(group, 0), len(span.before) * size),
        kpi.value(sums.period(group, 1), len(span.after) * size),
        None,
        None,
    )
    return outcome


# --- wording ------------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _number(kpi: Kpi, value: float, *, signed: bool = False, change: bool = False) -> str:
    if kpi.unit == "ratio":  # shares read best as percentages, their changes as points
        text = f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}"
        return text + (" points" if change else " %")
    if abs(value) >= 100:
        text = f"{value:+,.0f}" if signed else f"{value:,.0f}"
    else:
        text = f"{value:+.3g}" if signed else f"{value:.3g}"
    return text


def _interval(kpi: Kpi, estimate: Estimate) -> str:
    low = _number(kpi, estimate.ci_low, signed=True, change=True)
    high = _number(kpi, estimate.ci_high, signed=True, change=True)
    return f"95 % CI {low} to {high}, p = {estimate.p:.2g}"


def _effect(kpi: Kpi, inputs: Inputs, outcome: _Outcome) -> InterventionEffect:
    span = inputs.periods
    estimate = None if outcome.missing else outcome.estimate
    unit = "" if kpi.unit == "ratio" else f" {kpi.unit}"
    when = f"{len(span.before)} working days before {span.on} and {len(span.after)} from it"
    if estimate is None:
        message = f"{kpi.label}: no estimate, {outcome.missing} ({when}). {OBSERVATIONAL}"
    elif outcome.method == "difference_in_differences":
        a0, a1, c0, c1 = (value or 0.0 for value in outcome.values)
        message = (
            f"{kpi.label}: the {outcome.n_adopters} adopters went from {_number(kpi, a0)} to "
            f"{_number(kpi, a1)}, the {outcome.n_comparison} other developers from "
            f"{_number(kpi, c0)} to {_number(kpi, c1)}, over {when}. The adopters changed by "
            f"{_number(kpi, estimate.effect, signed=True, change=True)}{unit} more than the "
            f"others ({_interval(kpi, estimate)}). {OBSERVATIONAL}"
        )
    else:
        b0, b1 = (value or 0.0 for value in outcome.values[:2])
        who = "the adopters" if inputs.adopters else "the team"
        message = (
            f"{kpi.label} of {who} ({_count(outcome.n_adopters, 'developer')}): {_number(kpi, b0)} "
            f"before, {_number(kpi, b1)} after, over {when}. Beyond their trend, the level "
            f"shifted by {_number(kpi, estimate.effect, signed=True, change=True)}{unit} on "
            f"{span.on} ({_interval(kpi, estimate)}). {outcome.reason} {OBSERVATIONAL}"
        )
    numbers = estimate is not None
    return InterventionEffect(
        name=kpi.name,
        unit=kpi.unit,
        method=outcome.method,
        method_reason=outcome.reason,
        status="ok" if numbers else "insufficient_data",
        adopters_before=outcome.values[0] if numbers else None,
        adopters_after=outcome.values[1] if numbers else None,
        comparison_before=outcome.values[2] if numbers else None,
        comparison_after=outcome.values[3] if numbers else None,
        effect=estimate.effect if estimate else None,
        ci_low=estimate.ci_low if estimate else None,
        ci_high=estimate.ci_high if estimate else None,
        p=estimate.p if estimate else None,
        df=estimate.df if estimate else None,
        hac_lags=estimate.hac_lags if estimate else None,
        n_adopters=outcome.n_adopters,
        n_comparison=outcome.n_comparison,
        before_days=len(span.before),
        after_days=len(span.after),
        message=message,
    )
