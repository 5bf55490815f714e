"""Fetching GitHub Copilot usage reports from the REST API, on demand and on a schedule.

A project names an organization or an enterprise and a token (sealed, like the
GitHub webhook secret). For each day wanted, `GET /orgs/{org}/copilot/metrics/reports/
users-1-day?day=YYYY-MM-DD` (or `/enterprises/{enterprise}/…`) answers
`{download_links, report_day}`; the links are signed URLs to the report's NDJSON
files, downloaded without the token (it never leaves the API's origin). The answer's
`Link: rel="next"`, if GitHub pages it, is followed. See analytics/copilot.py for the
report's schema and where it is documented.

Rate limits are honoured: a 429, or a 403 with `Retry-After` or an exhausted
`x-ratelimit-remaining`, waits `Retry-After` seconds (else until `x-ratelimit-reset`)
when that is within `max_wait_seconds`, then asks again; longer, the fetch stops and
says when to retry. Server errors and network failures are retried with backoff.

Each day is stored in its own transaction, with the project's `last_fetched_day`, by
the `store` the caller passes (analytics' importer: integrations does not import
analytics' internals), so an interrupted fetch keeps the days it stored.

The periodic fetch of `prodlens serve` (`CopilotScheduler`) runs in-process: each tick,
one worker takes a lease in the shared state store and fetches every configured project.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens import __version__
from prodlens.audit import service as audit
from prodlens.auth.models import User
from prodlens.config import CopilotSettings
from prodlens.integrations.schemas import CopilotIntegration
from prodlens.integrations.sealing import seal, unseal
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.state import StateStore
from prodlens.projects.models import Project

log = structlog.get_logger(__name__)

SETTINGS_KEY = "copilot"  # Project.settings["copilot"]
TOKEN_PURPOSE = "copilot-metrics-token"
API_VERSION = "2022-11-28"
HISTORY_DAYS = 365  # GitHub keeps a year of daily reports
RETRIES = 3
MAX_RATE_LIMIT_WAITS = 5
_TIMEOUT = httpx.Timeout(60.0)
LEASE_KEY = "copilot:fetch:tick:"


class CopilotFetchError(Exception):
    """GitHub refused, or the answer made no sense; the message is for the operator."""


class ImportOutcome(Protocol):
    records: int
    rejected: int


# (session, project id, report file bytes, now) → what was stored; in the session's transaction.
ReportStore = Callable[[AsyncSession, str, bytes, datetime], Awaitable[ImportOutcome]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class FetchResult:
    days: list[date] = field(default_factory=list)  # fetched and stored
    missing: list[date] = field(default_factory=list)  # GitHub had no report (yet)
    records: int = 0
    rejected: int = 0
    files: int = 0
    waited_seconds: float = 0.0


# --- the project's settings ---------------------------------------------------------------


def config_of(project: Project) -> dict[str, Any]:
    return dict((project.settings or {}).get(SETTINGS_KEY) or {})


async def update_config(
    session: AsyncSession, project: Project, change: Callable[[dict[str, Any]], None]
) -> None:
    """Read-modify-write of `settings["copilot"]` with the project row locked."""
    await session.refresh(project, attribute_names=["settings"], with_for_update=True)
    settings = dict(project.settings or {})
    config = dict(settings.get(SETTINGS_KEY) or {})
    change(config)
    if config:
        settings[SETTINGS_KEY] = config
    else:
        settings.pop(SETTINGS_KEY, None)
    project.settings = settings  # a new object: JSON columns do not see in-place changes
    await session.flush()


def token_of(project: Project, *, secret_key: str) -> str | None:
    sealed = config_of(project).get("token")
    if not isinstance(sealed, str):
        return None
    return unseal(sealed, secret_key=secret_key, purpose=TOKEN_PURPOSE)


def integration_status(
    project: Project, *, secret_key: str, interval_minutes: int
) -> CopilotIntegration:
    config = config_of(project)
    return CopilotIntegration(
        configured="token" in config,
        organization=config.get("organization"),
        enterprise=config.get("enterprise"),
        token_usable=token_of(project, secret_key=secret_key) is not None,
        token_set_at=config.get("token_set_at"),
        last_fetched_day=config.get("last_fetched_day"),
        last_fetch_at=config.get("last_fetch_at"),
        last_error=config.get("last_error"),
        fetch_interval_minutes=interval_minutes,
    )


async def set_settings(
    session: AsyncSession,
    project: Project,
    *,
    organization: str | None,
    enterprise: str | None,
    token: str,
    secret_key: str,
    actor: User,
    clock: Clock,
    client: ClientInfo,
) -> None:
    now = clock.now()
    sealed = seal(token, secret_key=secret_key, purpose=TOKEN_PURPOSE)

    def change(config: dict[str, Any]) -> None:
        if (config.get("organization"), config.get("enterprise")) != (organization, enterprise):
            config.pop("last_fetched_day", None)  # another account: its history from the start
        config.pop("last_error", None)
        config.update(
            organization=organization,
            enterprise=enterprise,
            token=sealed,
            token_set_at=now.isoformat(),
        )

    await update_config(session, project, change)
    audit.record(
        session,
        "project.copilot_settings_set",
        at=now,
        client=client,
        user_id=actor.id,
        actor_id=actor.id,
        details={
            "project_id": project.id,
            "organization": organization,
            "enterprise": enterprise,
        },
    )


async def remove_settings(
    session: AsyncSession, project: Project, *, actor: User, clock: Clock, client: ClientInfo
) -> None:
    await update_config(session, project, lambda config: config.clear())
    audit.record(
        session,
        "project.copilot_settings_removed",
        at=clock.now(),
        client=client,
        user_id=actor.id,
        actor_id=actor.id,
        details={"project_id": project.id},
    )


# --- which days ---------------------------------------------------------------------------


def days_to_fetch(
    last_fetched: date | None, today: date, *, initial_days: int, since: date | None = None
) -> list[date]:
    """From `since` (or the day after the last fetched one, or `initial_days` back) to
    yesterday (today's report is never complete), within GitHub's year of history."""
    end = today - timedelta(days=1)
    if since is not None:
        start = since
    elif last_fetched is not None:
        start = last_fetched + timedelta(days=1)
    else:
        start = end - timedelta(days=initial_days - 1)
    start = max(start, today - timedelta(days=HISTORY_DAYS))
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# --- the HTTP side ------------------------------------------------------------------------


class _Api:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_url: str,
        token: str,
        sleep: Sleep,
        max_wait_seconds: float,
        wall_clock: Callable[[], float],
        result: FetchResult,
    ) -> None:
        self.client = client
        self.origin = httpx.URL(api_url)
        self.token = token
        self.sleep = sleep
        self.max_wait = max_wait_seconds
        self.wall_clock = wall_clock
        self.result = result

    def _same_origin(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == (
            self.origin.scheme,
            self.origin.host,
            self.origin.port,
        )

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before asking again, when the answer is a rate limit."""
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("retry-after", "")
        if retry_after.strip().isdigit():
            return float(retry_after)
        exhausted = response.headers.get("x-ratelimit-remaining") == "0"
        reset = response.headers.get("x-ratelimit-reset", "")
        if exhausted and reset.isdigit():
            return max(0.0, int(reset) - self.wall_clock()) + 1
        if response.status_code == 429 or exhausted:
            return 60.0  # GitHub's advice for a secondary limit without a header
        return None

    async def get(self, url: str, *, params: dict[str, str] | None = None) -> httpx.Response:
        # httpx.URL(url, params=None) would drop the query of a `Link` URL.
        target = httpx.URL(url, params=params) if params else httpx.URL(url)
        # The token goes to the API's origin only, never to a download link's host.
        headers = {"Authorization": f"Bearer {self.token}"} if self._same_origin(target) else {}
        failures = waits = 0
        while True:
            try:
                response = await self.client.get(target, headers=headers)
            except httpx.TransportError as exc:
                failures += 1
                if failures >= RETRIES:
                    raise CopilotFetchError(f"GET {_where(target)}: {exc}") from None
                await self.sleep(2.0 ** (failures - 1))
                continue
            wait = self._rate_limit_wait(response)
            if wait is not None:
                waits += 1
                if wait > self.max_wait or waits > MAX_RATE_LIMIT_WAITS:
                    when = datetime.fromtimestamp(self.wall_clock() + wait, UTC)
                    raise CopilotFetchError(
                        f"GET {_where(target)}: GitHub rate limit; try again after "
                        f"{when.isoformat(timespec='seconds')}."
                    )
                log.info("copilot_rate_limited", wait_seconds=wait, url=_where(target))
                self.result.waited_seconds += wait
                await self.sleep(wait)
                continue
            if response.status_code >= 500:
                failures += 1
                if failures >= RETRIES:
                    raise CopilotFetchError(
                        f"GET {_where(target)}: HTTP {response.status_code} from GitHub."
                    )
                await self.sleep(2.0 ** (failures - 1))
                continue
            return response

    def check_link(self, link: Any) -> str:
        if not isinstance(link, str):
            raise CopilotFetchError("GitHub answered a download link that is not a URL.")
        url = httpx.URL(link)
        # Signed links are https; plain http only when the API itself is (a local test).
        if url.scheme != "https" and not (url.scheme == "http" == self.origin.scheme):
            raise CopilotFetchError(f"Refused a download link over {url.scheme or 'no scheme'}.")
        return link

    async def report_links(self, first_url: str, day: date) -> list[str] | None:
        """The day's download links, every page of them; None when there is no report."""
        links: list[str] = []
        url: str | None = first_url
        params: dict[str, str] | None = {"day": day.isoformat()}
        while url is not None:
            target = httpx.URL(url)
            if not self._same_origin(target):
                raise CopilotFetchError(f"GitHub linked to another origin ({target.host}).")
            response = await self.get(url, params=params)
            if response.status_code in (204, 404) and not links:
                return None
            _raise_for(response)
            try:
                body = response.json()
            except ValueError:
                raise CopilotFetchError(f"GET {_where(target)}: the answer is not JSON.") from None
            found = body.get("download_links") if isinstance(body, dict) else None
            if not isinstance(found, list):
                raise CopilotFetchError(f"GET {_where(target)}: no `download_links` in the answer.")
            links += [self.check_link(link) for link in found]
            url, params = response.links.get("next", {}).get("url"), None
        return links or None

    async def download(self, link: str) -> bytes:
        response = await self.get(link)
        _raise_for(response)
        return response.content


def _where(url: httpx.URL) -> str:
    return str(url.copy_with(query=None))


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    where = f"GET {_where(response.request.url)}"
    hints = {
        401: "the token was refused",
        403: "the token may not read Copilot metrics (it needs the `manage_billing:copilot` "
        "or `read:org`/`read:enterprise` scope, or the fine-grained Copilot metrics "
        "permission), or the Copilot usage metrics policy is off",
        404: "no such organization or enterprise, or the token cannot see it",
    }
    hint = hints.get(response.status_code, response.reason_phrase)
    raise CopilotFetchError(f"{where}: HTTP {response.status_code}, {hint}.")


def report_url(api_url: str, *, organization: str | None, enterprise: str | None) -> str:
    base = api_url.rstrip("/")
    if enterprise:
        return f"{base}/enterprises/{enterprise}/copilot/metrics/reports/users-1-day"
    if organization:
        return f"{base}/orgs/{organization}/copilot/metrics/reports/users-1-day"
    raise CopilotFetchError("Name an organization or an enterprise first.")


# --- a project's fetch --------------------------------------------------------------------


async def _record(
    session: AsyncSession, project: Project, *, now: datetime, day: date | None, error: str | None
) -> None:
    def change(config: dict[str, Any]) -> None:
        if day is not None:
            known = config.get("last_fetched_day")
            if not isinstance(known, str) or known < day.isoformat():
                config["last_fetched_day"] = day.isoformat()
        config["last_fetch_at"] = now.isoformat()
        if error is None:
            config.pop("last_error", None)
        else:
            config["last_error"] = error[:500]

    await update_config(session, project, change)


async def fetch_project(
    sessionmaker: async_sessionmaker[AsyncSession],
    project_id: str,
    *,
    store: ReportStore,
    secret_key: str,
    settings: CopilotSettings,
    now: datetime,
    since: date | None = None,
    sleep: Sleep | None = None,
    wall_clock: Callable[[], float] = time.time,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchResult:
    """Fetch the days the project lacks (or from `since`), each day stored on its own."""
    async with sessionmaker() as session:
        project = await session.get(Project, project_id)
        if project is None:
            raise CopilotFetchError("The project no longer exists.")
        config = config_of(project)
        token = token_of(project, secret_key=secret_key)
    if "token" not in config:
        raise CopilotFetchError("Copilot fetching is not set up for this project.")
    if token is None:
        raise CopilotFetchError(
            "The stored token cannot be decrypted (PRODLENS_SECRET_KEY changed): set it again."
        )
    first_url = report_url(
        settings.api_url,
        organization=config.get("organization"),
        enterprise=config.get("enterprise"),
    )
    last = config.get("last_fetched_day")
    days = days_to_fetch(
        date.fromisoformat(last) if isinstance(last, str) else None,
        now.date(),
        initial_days=settings.initial_days,
        since=since,
    )
    result = FetchResult()
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": f"prodlens/{__version__}",
    }
    try:
        async with httpx.AsyncClient(
            headers=headers, timeout=_TIMEOUT, transport=transport, follow_redirects=True
        ) as client:
            api = _Api(
                client,
                api_url=settings.api_url,
                token=token,
                sleep=sleep or asyncio.sleep,
                max_wait_seconds=settings.max_rate_limit_wait_seconds,
                wall_clock=wall_clock,
                result=result,
            )
            for day in days:
                links = await api.report_links(first_url, day)
                if links is None:
                    result.missing.append(day)
                    continue
                files = [await api.download(link) for link in links]
                async with sessionmaker() as session, session.begin():
                    project = await session.get(Project, project_id)
                    if project is None:
                        raise CopilotFetchError("The project was deleted during the fetch.")
                    # All the day's files in one transaction: the day is whole or absent.
                    for body in files:
                        outcome = await store(session, project_id, body, now)
                        result.records += outcome.records
                        result.rejected += outcome.rejected
                    await _record(session, project, now=now, day=day, error=None)
                result.files += len(files)
                result.days.append(day)
    except (CopilotFetchError, httpx.HTTPError, OSError) as exc:
        message = str(exc) if isinstance(exc, CopilotFetchError) else f"GitHub: {exc}"
        async with sessionmaker() as session, session.begin():
            project = await session.get(Project, project_id)
            if project is not None:
                await _record(session, project, now=now, day=None, error=message)
        raise CopilotFetchError(message) from None
    async with sessionmaker() as session, session.begin():
        project = await session.get(Project, project_id)
        if project is not None:
            await _record(session, project, now=now, day=None, error=None)
    return result


async def configured_projects(sessionmaker: async_sessionmaker[AsyncSession]) -> Sequence[str]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Project.id, Project.settings))
        return [
            project_id
            for project_id, settings in rows
            if "token" in ((settings or {}).get(SETTINGS_KEY) or {})
        ]


# --- the periodic fetch of `prodlens serve` -----------------------------------------------


class CopilotScheduler:
    """Every `fetch_interval_minutes`, one worker (the first to take the tick's lease in
    the shared state store) fetches every configured project. In-process for now; the
    job system will take it over."""

    def __init__(
        self,
        settings: CopilotSettings,
        *,
        secret_key: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        state: StateStore,
        clock: Clock,
        store: ReportStore,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.secret_key = secret_key
        self.sessionmaker = sessionmaker
        self.state = state
        self.clock = clock
        self.store = store
        self.transport = transport
        self.worker = f"{os.getpid()}:{id(self):x}"
        self._task: asyncio.Task[None] | None = None

    @property
    def interval_seconds(self) -> int:
        return self.settings.fetch_interval_minutes * 60

    def start(self) -> None:
        if self.interval_seconds > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="copilot_fetch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        await asyncio.sleep(self.settings.startup_delay_seconds)
        while True:
            try:
                await self.tick()
            except Exception:  # a failed tick must not end the schedule
                log.exception("copilot_fetch_tick_failed")
            elapsed = self.clock.now().timestamp() % self.interval_seconds
            await asyncio.sleep(self.interval_seconds - elapsed)

    async def tick(self) -> dict[str, FetchResult | str] | None:
        """One round: None when another worker holds this tick's lease; else each
        configured project's result (or error message)."""
        number = int(self.clock.now().timestamp() // self.interval_seconds)
        taken = await self.state.set_if_absent(
            f"{LEASE_KEY}{number}", self.worker, ttl=self.interval_seconds
        )
        if not taken:
            return None
        outcomes: dict[str, FetchResult | str] = {}
        for project_id in await configured_projects(self.sessionmaker):
            try:
                outcome = await fetch_project(
                    self.sessionmaker,
                    project_id,
                    store=self.store,
                    secret_key=self.secret_key,
                    settings=self.settings,
                    now=self.clock.now(),
                    transport=self.transport,
                )
            except CopilotFetchError as exc:
                log.warning("copilot_fetch_failed", project_id=project_id, error=str(exc))
                outcomes[project_id] = str(exc)
                continue
            log.info(
                "copilot_fetched",
                project_id=project_id,
                days=len(outcome.days),
                records=outcome.records,
            )
            outcomes[project_id] = outcome
        return outcomes
