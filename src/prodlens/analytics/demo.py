"""Generated demo data: a clearly labelled project with realistic usage and delivery data.

Seven developers with their own habits (models, acceptance, hours, time zones)
use five models over the last N days: weekday-heavy, in working hours, with an
adoption trend, a provider incident and one unusually busy day, so that every
KPI, chart and insight has something to show. Commits and pull requests follow
each developer's AI activity of the day before, loosely, so the lagged
correlation finds a signal without it being obvious.

The same seed gives the same data (apart from the dates, which end today).
Events go through the ingest service in batches, so rollups and sessions are
exactly what real traffic would produce. Nothing here is real: the project is
named "Demo (generated data)" and marked in its settings.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.ingest.events import MAX_BATCH
from prodlens.analytics.ingest.service import ingest
from prodlens.analytics.models import Commit, PullRequest
from prodlens.auth import service as accounts
from prodlens.auth.models import User
from prodlens.auth.passwords import WeakPassword
from prodlens.auth.runtime import AuthRuntime, build_auth_runtime
from prodlens.auth.service import NewAccount
from prodlens.config import Profile, Settings
from prodlens.kit.clock import SystemClock
from prodlens.kit.db import Database
from prodlens.kit.migrations import head_revisions
from prodlens.kit.state import MemoryStateStore
from prodlens.kit.tasks import TaskRunner
from prodlens.projects import service as projects
from prodlens.projects.models import Project
from prodlens.projects.schemas import ProjectCreate

log = structlog.get_logger(__name__)

DEMO_NAME = "Demo (generated data)"
DEMO_SLUG = "demo"
DEMO_USERNAME = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_SOURCE = "demo"  # the events' `source`: generated, never confused with real ingest
DEFAULT_DAYS = 60
DEFAULT_SEED = 7
REPOS = ["acme/checkout-service", "acme/web-app"]


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


class DemoError(Exception):
    """Why the demo data cannot be generated; the message is for the operator."""


@dataclass(frozen=True)
class DemoResult:
    project_id: str
    project_slug: str
    username: str
    password: str
    developers: int
    days: int
    events: int
    commits: int
    pull_requests: int


# --- the generator ---------------------------------------------------------------------


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
        # One provider incident and one developer's unusually busy day: anomalies to find.
        self.incident_day = busy[len(busy) // 3]
        self.spike = (busy[(2 * len(busy)) // 3], self.rng.choice(DEVELOPERS).login)

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
        intensity = {developer.login: 1.0 for developer in DEVELOPERS}
        for day in range(self.days):
            weekday = self._weekday(day)
            # Adoption grows over the period: from 75% to 120% of each developer's habit.
            trend = 0.75 + 0.45 * day / max(self.days - 1, 1)
            for developer in DEVELOPERS:
                previous = intensity[developer.login]
                today = 0.55 * previous + 0.45 * self.rng.lognormvariate(0, 0.45)
                intensity[developer.login] = today
                working = self.rng.random() < (0.92 if weekday else 0.1)
                if not working:
                    continue
                sessions = self._poisson(developer.sessions_per_day * today * trend)
                if (day, developer.login) == self.spike:
                    sessions = sessions * 3 + 4
                for _ in range(sessions):
                    self._session(day, developer)
                # Delivery follows yesterday's AI activity more than today's.
                lift = 0.45 + 0.4 * previous + 0.15 * today
                for _ in range(self._poisson(developer.commits_per_day * lift)):
                    self._commit(day, developer)
                if self.rng.random() < min(0.08 + 0.14 * previous, 0.5):
                    self._pull_request(day, developer)
        self._number_pull_requests()

    def _session(self, day: int, developer: Developer) -> None:
        self._sessions += 1
        session_id = f"demo-{self.seed}-s{self._sessions:05d}"
        model = self._pick(developer.models)
        at = self._working_time(day, developer)
        calls = 1 + self._poisson(3.5)
        for call in range(calls):
            if at > self.now - timedelta(minutes=1):
                return  # the demo ends now: ingest refuses events from the future
            self.events.append(self._event(day, developer, model, session_id, at, first=call == 0))
            at += timedelta(seconds=self.rng.uniform(20, 420))

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
        error_rate = 0.025 + (0.3 if incident else 0)
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


# --- storing it --------------------------------------------------------------------------


def _password(rt: AuthRuntime) -> str:
    while True:
        password = secrets.token_urlsafe(12)
        try:
            accounts.check_password(rt, password, email=DEMO_EMAIL, username=DEMO_USERNAME)
        except WeakPassword:  # pragma: no cover (random 96 bits: practically never)
            continue
        return password


async def remove(session: AsyncSession) -> bool:
    """Delete a previous demo project and its demo user; False when there was none."""
    project = await session.scalar(select(Project).where(Project.slug == DEMO_SLUG))
    if project is None:
        return False
    marker = (project.settings or {}).get("demo")
    if not isinstance(marker, dict):
        raise DemoError(f"A project with the slug {DEMO_SLUG!r} exists and is not demo data.")
    await session.execute(delete(Project).where(Project.id == project.id))
    if marker.get("user_id"):
        await session.execute(delete(User).where(User.id == marker["user_id"]))
    session.expunge_all()  # the rows went by SQL: forget their stale objects
    return True


async def generate(
    session: AsyncSession, rt: AuthRuntime, *, days: int = DEFAULT_DAYS, seed: int = DEFAULT_SEED
) -> DemoResult:
    """Create the demo user, its project and the data (flushes; the caller commits)."""
    if days < 1:
        raise DemoError("Generate at least one day.")
    if await session.scalar(select(Project.id).where(Project.slug == DEMO_SLUG)):
        raise DemoError("The demo project exists already: use --reset to generate it again.")
    if await accounts.find_by_identifier(session, DEMO_USERNAME):
        raise DemoError(f"The username {DEMO_USERNAME!r} is taken by a real account.")
    now = rt.clock.now()
    password = _password(rt)
    user = await accounts.create_user(
        session,
        rt,
        NewAccount(DEMO_EMAIL, DEMO_USERNAME, password, "Demo user"),
        verified=True,
    )
    project = await projects.create(
        session,
        owner=user,
        data=ProjectCreate(
            name=DEMO_NAME,
            slug=DEMO_SLUG,
            description=(
                "Generated by `prodlens demo`: invented developers, model calls, commits and "
                "pull requests. Not real data."
            ),
            repos=REPOS,
            allowed_models=ALLOWED_MODELS,
        ),
        clock=rt.clock,
    )
    project.settings = {"demo": {"generated_at": now.isoformat(), "seed": seed, "user_id": user.id}}
    await session.flush()

    generator = _Generator(seed, days, now)
    generator.run()
    for start in range(0, len(generator.events), MAX_BATCH):
        batch = generator.events[start : start + MAX_BATCH]
        result = await ingest(session, project, batch, source=DEMO_SOURCE, clock=rt.clock)
        if result.summary.accepted != len(batch):  # our own data: any rejection is a bug
            reasons = {r.reason for r in result.results if r.status != "accepted"}
            raise DemoError(f"generated events were refused: {sorted(map(str, reasons))[:3]}")
    if generator.commits:
        await session.execute(
            insert(Commit), [{**row, "project_id": project.id} for row in generator.commits]
        )
    if generator.pulls:
        await session.execute(
            insert(PullRequest), [{**row, "project_id": project.id} for row in generator.pulls]
        )
    await session.flush()
    return DemoResult(
        project_id=project.id,
        project_slug=project.slug,
        username=DEMO_USERNAME,
        password=password,
        developers=len(DEVELOPERS),
        days=days,
        events=len(generator.events),
        commits=len(generator.commits),
        pull_requests=len(generator.pulls),
    )


# --- from the command line and `serve` ---------------------------------------------------


def wanted_on_empty_database(settings: Settings) -> bool:
    """SPEC §1: `serve` fills an empty database with the demo in development only."""
    return settings.env is Profile.DEVELOPMENT and settings.demo_on_empty


async def _with_runtime(
    settings: Settings, *, reset: bool, only_if_empty: bool, days: int, seed: int
) -> DemoResult | None:
    database = Database(settings)
    rt = build_auth_runtime(
        settings,
        clock=SystemClock(),
        store=MemoryStateStore(),  # generating data needs no shared state
        tasks=TaskRunner(),
        sessionmaker=database.sessionmaker,
    )
    try:
        if await database.current_revision() not in head_revisions():
            if only_if_empty:
                return None
            raise DemoError("The database is not migrated: run `prodlens migrate` first.")
        async with database.sessionmaker() as session, session.begin():
            if only_if_empty and await session.scalar(select(User.id).limit(1)) is not None:
                return None
            if reset:
                await remove(session)
            return await generate(session, rt, days=days, seed=seed)
    finally:
        await database.dispose()


async def create_if_empty(settings: Settings) -> DemoResult | None:
    """The demo, when the database has no account yet; None otherwise (or on a lost race
    with another process doing the same)."""
    try:
        result = await _with_runtime(
            settings, reset=False, only_if_empty=True, days=DEFAULT_DAYS, seed=DEFAULT_SEED
        )
    except Exception as exc:  # the demo is a nicety: serving must start without it
        log.warning("demo_skipped", error=f"{type(exc).__name__}: {exc}")
        return None
    if result is not None:
        # Never the password: it is printed once on the console, not logged (S33).
        log.info(
            "demo_created",
            project=result.project_slug,
            username=result.username,
            events=result.events,
            commits=result.commits,
            pull_requests=result.pull_requests,
        )
    return result


def demo_command(
    days: Annotated[int, typer.Option(min=1, max=365, help="Days of history, ending today.")] = (
        DEFAULT_DAYS
    ),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same data.")] = (
        DEFAULT_SEED
    ),
    reset: Annotated[
        bool, typer.Option(help="Delete an existing demo project and its user first.")
    ] = False,
) -> None:
    """Generate the demo project (clearly labelled, invented data) and its `demo` login."""
    from prodlens.cli import load_settings  # here: prodlens.cli imports this module

    console, errors = Console(), Console(stderr=True)
    settings = load_settings()
    if settings.env is Profile.PRODUCTION:
        errors.print("[red]Refusing to create a demo account in the production profile.[/]")
        raise typer.Exit(1)
    try:
        result = asyncio.run(
            _with_runtime(settings, reset=reset, only_if_empty=False, days=days, seed=seed)
        )
    except DemoError as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    assert result is not None
    console.print(
        f"Demo project [bold]{DEMO_NAME}[/] ({result.project_slug}): {result.developers} "
        f"developers, {result.days} days, {result.events} events, {result.commits} commits, "
        f"{result.pull_requests} pull requests."
    )
    console.print(f"Demo login: {result.username} / {result.password}  (shown once)")
