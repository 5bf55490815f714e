"""Invented usage and delivery data for the demo project: pure generation, no storage.

Seven developers with their own habits (models, acceptance, hours, time zones)
use five models over the last N days: weekday-heavy, in working hours, with an
adoption trend and busy and quiet spells the whole team shares, so that every KPI
and chart has something to show. Three things are planted for the insights to
find, and nothing else (docs/demo.md):

- commits follow the team's AI activity of two working days before (LAG_DAYS);
  merged pull requests do not follow it;
- a provider incident: on one working day a third of Anthropic calls fail;
- one runaway developer-day: one developer makes five times their usual calls.

The same seed gives the same data (apart from the dates, which end today).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

DEMO_SOURCE = "demo"  # the events' `source`: generated, never confused with real ingest
DEFAULT_DAYS = 60
DEFAULT_SEED = 7
REPOS = ["acme/checkout-service", "acme/web-app"]
LAG_DAYS = 2  # commits follow the team's AI activity this many working days later
_TEAM_PHI = 0.4  # day-to-day persistence of the team's busy and quiet spells
_TEAM_SD = 0.5  # their spread, on the log scale
_COMMIT_LIFT = 2.0  # how strongly commits follow the lagged activity (log scale)
_CALLS_PER_SESSION = 2.5  # mean calls of a working session
_RUNAWAY = 25  # the runaway developer-day: an agent loop making this many times the usual calls


@dataclass(frozen=True)
class Developer:
    login: str  # also the GitHub login: usage and delivery data join on it
    acceptance: float  # how often they keep a suggestion
    sessions_per_day: float
    utc_offset: int  # hours; their working day in UTC follows from it
    models: dict[str, float]  # preference weights
    client: str
    repo: int  # index into REPOS: where they mostly work
    commits_per_day: float


@dataclass(frozen=True)
class ModelProfile:
    provider: str
    latency_ms: float  # median of a full chat answer
    input_tokens: float  # typical prompt size (mean)
    output_tokens: float
    cached_share: float  # share of calls that read from the prompt cache


MODELS = {
    "claude-sonnet-4": ModelProfile("anthropic", 4200, 6000, 650, 0.7),
    "claude-3-5-haiku": ModelProfile("anthropic", 1200, 2500, 260, 0.5),
    "gpt-4.1": ModelProfile("openai", 3100, 5000, 520, 0.5),
    "gpt-4o-mini": ModelProfile("openai", 850, 1800, 160, 0.4),
    "gemini-2.5-pro": ModelProfile("google", 5600, 7000, 800, 0.2),
}
# The team's model policy; gemini-2.5-pro is used without being on it (compliance < 100%).
ALLOWED_MODELS = ["claude-sonnet-4", "claude-3-5-haiku", "gpt-4.1", "gpt-4o-mini"]

DEVELOPERS = (
    Developer(
        "ana-silva", 0.58, 3.0, 0, {"claude-sonnet-4": 6, "claude-3-5-haiku": 2, "gpt-4o-mini": 1},
        "vscode", 0, 2.2,
    ),
    Developer(
        "ben-okafor", 0.44, 2.4, 1, {"gpt-4.1": 5, "gpt-4o-mini": 4, "claude-sonnet-4": 1},
        "jetbrains", 1, 1.8,
    ),
    Developer(
        "chen-wei", 0.52, 3.6, 8, {"claude-sonnet-4": 4, "gpt-4.1": 3, "claude-3-5-haiku": 2},
        "cli", 0, 2.6,
    ),
    Developer(
        "dana-kowalski", 0.37, 1.8, 2, {"gemini-2.5-pro": 4, "claude-sonnet-4": 3, "gpt-4.1": 1},
        "vscode", 1, 1.5,
    ),
    Developer(
        "eli-haddad", 0.47, 2.6, -5, {"gpt-4o-mini": 5, "gpt-4.1": 3, "claude-3-5-haiku": 2},
        "vscode", 1, 2.0,
    ),
    Developer(
        "fatima-noor", 0.55, 3.2, 0, {"claude-sonnet-4": 5, "gpt-4.1": 2, "gemini-2.5-pro": 1},
        "jetbrains", 0, 2.4,
    ),
    Developer(
        "gus-lindqvist", 0.31, 0.9, 1, {"gpt-4o-mini": 3, "claude-3-5-haiku": 3},
        "cli", 1, 1.2,
    ),
)  # fmt: skip

_OPERATIONS = (("chat", 0.5), ("completion", 0.38), ("edit", 0.12))
_ERRORS = (
    (429, "rate_limit_error", 0.45),
    (500, "api_error", 0.2),
    (503, "service_unavailable", 0.15),
    (529, "overloaded_error", 0.2),
)
_VERBS = ("Add", "Fix", "Refactor", "Speed up", "Test", "Document", "Remove", "Rename")
_THINGS = (
    "checkout retry logic",
    "cart total rounding",
    "payment webhook handler",
    "feature flag for new search",
    "flaky login test",
    "order history pagination",
    "currency formatting",
    "session timeout banner",
    "inventory sync job",
    "address validation",
    "discount code parser",
    "CI cache for node modules",
    "error boundary on product page",
    "metrics for the shipping API",
)


@dataclass(frozen=True)
class DemoData:
    """Native-shaped events, and commit and pull-request rows without their project id."""

    events: list[dict[str, Any]]
    commits: list[dict[str, Any]]
    pull_requests: list[dict[str, Any]]
    incident_day: date  # what the insights should find, besides the lagged relation
    spike: tuple[str, date]  # (developer, day)


def generate_data(*, seed: int, days: int, now: datetime) -> DemoData:
    """`days` days of data ending at `now`; the same seed, the same data."""
    generator = _Generator(seed, days, now)
    generator.run()
    first = generator.first_day.date()
    spike_day, spike_developer = generator.spike
    return DemoData(
        generator.events,
        generator.commits,
        generator.pulls,
        incident_day=first + timedelta(days=generator.incident_day),
        spike=(spike_developer, first + timedelta(days=spike_day)),
    )


class _Generator:
    def __init__(self, seed: int, days: int, now: datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (demo data, not security)
        self.seed = seed
        self.days = days
        self.now = now
        self.first_day = (now - timedelta(days=days - 1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.events: list[dict[str, Any]] = []
        self.commits: list[dict[str, Any]] = []
        self.pulls: list[dict[str, Any]] = []
        self._sessions = 0
        busy = [d for d in range(days) if self._weekday(d)] or [0]
        # The provider incident and the runaway developer-day: on working days.
        # In the last 30 days, so the default insights window shows them.
        self.incident_day = busy[(3 * len(busy)) // 5]
        self.spike = (busy[(4 * len(busy)) // 5], self.rng.choice(DEVELOPERS).login)

    def _weekday(self, day: int) -> bool:
        return (self.first_day + timedelta(days=day)).weekday() < 5

    def _poisson(self, mean: float) -> int:
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def _pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _working_time(self, day: int, developer: Developer) -> datetime:
        # Mostly 9:00-18:00 local, a bump before lunch and one after, in UTC.
        local_hour = min(max(self.rng.gauss(13.0, 2.6), 7.5), 21.5)
        start = self.first_day + timedelta(days=day, hours=local_hour - developer.utc_offset)
        return start + timedelta(seconds=self.rng.uniform(0, 59))

    def run(self) -> None:
        rng = self.rng
        team = 0.0  # the team's busy-ness on the log scale: an AR(1), so spells persist
        shocks = _TEAM_SD * math.sqrt(1 - _TEAM_PHI**2)
        working_days: list[float] = []  # the team's busy-ness on each working day so far
        for day in range(self.days):
            weekday = self._weekday(day)
            # Adoption grows over the period: from 75% to 120% of each developer's habit.
            trend = 0.75 + 0.45 * day / max(self.days - 1, 1)
            team = _TEAM_PHI * team + rng.gauss(0, shocks)
            lead = rng.gauss(0, _TEAM_SD)  # weekends and the first days: no lagged activity
            if weekday:
                working_days.append(team)
                if len(working_days) > LAG_DAYS:
                    lead = working_days[-1 - LAG_DAYS]
            lift = math.exp(_COMMIT_LIFT * lead - (_COMMIT_LIFT * _TEAM_SD) ** 2 / 2)
            for developer in DEVELOPERS:
                runaway = (day, developer.login) == self.spike
                if rng.random() >= (0.92 if weekday else 0.1) and not runaway:
                    continue  # not working today
                usual = 2 * developer.sessions_per_day * math.exp(team) * trend
                for _ in range(self._poisson(usual * rng.lognormvariate(0, 0.2))):
                    self._session(day, developer)
                if runaway:
                    self._session(day, developer, calls=int(_RUNAWAY * usual * _CALLS_PER_SESSION))
                for _ in range(self._poisson(developer.commits_per_day * lift)):
                    self._commit(day, developer)
                if rng.random() < 0.16:  # pull requests: unrelated to AI activity
                    self._pull_request(day, developer)
        self._number_pull_requests()

    def _session(self, day: int, developer: Developer, calls: int | None = None) -> None:
        """A working session of calls; `calls` given: an agent loop, calls seconds apart."""
        self._sessions += 1
        session_id = f"demo-{self.seed}-s{self._sessions:05d}"
        model = self._pick(developer.models)
        at = self._working_time(day, developer)
        loop = calls is not None
        if calls is None:
            calls = 1 + self._poisson(_CALLS_PER_SESSION - 1)
        for call in range(calls):
            if at > self.now - timedelta(minutes=1):
                return  # the demo ends now: ingest refuses events from the future
            self.events.append(self._event(day, developer, model, session_id, at, first=call == 0))
            at += timedelta(seconds=self.rng.uniform(5, 30) if loop else self.rng.uniform(20, 420))

    def _event(
        self,
        day: int,
        developer: Developer,
        model: str,
        session_id: str,
        at: datetime,
        *,
        first: bool,
    ) -> dict[str, Any]:
        rng = self.rng
        profile = MODELS[model]
        operation = rng.choices(
            [name for name, _ in _OPERATIONS], weights=[w for _, w in _OPERATIONS]
        )[0]
        scale = {"chat": 1.0, "completion": 0.35, "edit": 0.7}[operation]
        prompt = max(int(rng.lognormvariate(math.log(profile.input_tokens * scale), 0.6)), 50)
        output = max(int(rng.lognormvariate(math.log(profile.output_tokens * scale), 0.7)), 5)
        cache_read = cache_write = 0
        if profile.provider != "google" and rng.random() < profile.cached_share and not first:
            cache_read = int(prompt * rng.uniform(0.4, 0.85))
        elif profile.provider == "anthropic" and first:
            cache_write = int(prompt * rng.uniform(0.3, 0.6))
        latency = rng.lognormvariate(math.log(profile.latency_ms * (0.4 + 0.6 * scale)), 0.5)
        incident = day == self.incident_day and profile.provider == "anthropic"
        error_rate = 0.6 if incident else 0.025
        event: dict[str, Any] = {
            "event_id": f"demo-{self.seed}-e{len(self.events):06d}",
            "session_id": session_id,
            "developer_id": developer.login,
            "started_at": at.isoformat(),
            "provider": profile.provider,
            "operation": operation,
            "request_model": model,
            "response_model": model,
            "input_tokens": prompt - cache_read - cache_write,
            "cache_read_tokens": cache_read,
            "cache_creation_tokens": cache_write,
            "repo": REPOS[developer.repo if rng.random() < 0.85 else 1 - developer.repo],
            "tags": [DEMO_SOURCE, f"client:{developer.client}"],
        }
        if rng.random() < error_rate:
            status, error_type = rng.choices(
                [(s, t) for s, t, _ in _ERRORS], weights=[w for _, _, w in _ERRORS]
            )[0]
            latency = latency * 0.3 if status == 429 else latency * 1.5
            event.update(
                status="error",
                http_status=status,
                error_type=error_type,
                output_tokens=0,
                latency_ms=round(latency, 1),
            )
        else:
            # Chat answers are often not marked either way: unknown, not rejected.
            unknown = rng.random() < (0.3 if operation == "chat" else 0.06)
            accepted = None if unknown else rng.random() < developer.acceptance
            lines = max(1, int(output / rng.uniform(9, 14))) if operation != "chat" else None
            event.update(
                output_tokens=output,
                latency_ms=round(latency, 1),
                ttft_ms=round(latency * rng.uniform(0.08, 0.3), 1),
                finish_reason=rng.choices(["stop", "length", "tool_calls"], [0.9, 0.04, 0.06])[0],
                accepted=accepted,
                lines_suggested=lines,
                lines_accepted=(
                    None
                    if lines is None or accepted is None
                    else (max(1, int(lines * rng.uniform(0.5, 1.0))) if accepted else 0)
                ),
            )
        event["ended_at"] = (at + timedelta(milliseconds=event["latency_ms"])).isoformat()
        return event

    def _title(self) -> str:
        return f"{self.rng.choice(_VERBS)} {self.rng.choice(_THINGS)}"

    def _commit(self, day: int, developer: Developer) -> None:
        at = self._working_time(day, developer)
        if at > self.now:
            return
        self.commits.append(
            {
                "repo": REPOS[developer.repo if self.rng.random() < 0.9 else 1 - developer.repo],
                "sha": f"{self.rng.getrandbits(160):040x}",
                "author": developer.login,
                "message": self._title().lower().capitalize(),
                "committed_at": at,
                "additions": int(self.rng.lognormvariate(3.2, 1.0)),
                "deletions": int(self.rng.lognormvariate(2.4, 1.0)),
            }
        )

    def _pull_request(self, day: int, developer: Developer) -> None:
        rng = self.rng
        created = self._working_time(day, developer)
        if created > self.now:
            return
        outcome = rng.random()
        settled = created + timedelta(hours=rng.lognormvariate(math.log(18), 0.9))
        reopened = rng.random() < 0.07
        if reopened:  # closed, reopened, then settled later
            settled += timedelta(hours=rng.uniform(4, 48))
        pull: dict[str, Any] = {
            "repo": REPOS[developer.repo],
            "title": self._title(),
            "author": developer.login,
            "state": "open",
            "created_at": created,
            "merged_at": None,
            "closed_at": None,
            "reopened_count": int(reopened),
            "updated_at": created,
        }
        if settled <= self.now and outcome < 0.9:
            merged = outcome < 0.82
            pull.update(
                state="merged" if merged else "closed",
                merged_at=settled if merged else None,
                closed_at=settled,
                updated_at=settled,
            )
        self.pulls.append(pull)

    def _number_pull_requests(self) -> None:
        numbers = dict.fromkeys(REPOS, 100)  # as if the repositories had some history
        for pull in sorted(self.pulls, key=lambda p: p["created_at"]):
            numbers[pull["repo"]] += 1
            pull["number"] = numbers[pull["repo"]]
