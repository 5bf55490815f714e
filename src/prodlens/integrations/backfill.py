"""Loading a repository's history from the GitHub REST API: commits and pull requests.

Idempotent (commits are unique per sha, pull requests are upserted) and cheap to
repeat: every page is requested with the ETag of the last complete run
(`If-None-Match`), and GitHub answers an unchanged page with 304, which costs no
rate limit. Both listings are newest first (commits by date, pull requests by
last update), so an unchanged first page means an unchanged listing and the run
stops there. ETags are saved only once a listing has been read to its end, so
an interrupted run never hides pages it did not load.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens import __version__
from prodlens.integrations import github
from prodlens.integrations.schemas import PullRequestData, RestCommit
from prodlens.projects.models import Project

DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100
_TIMEOUT = httpx.Timeout(30.0)


class BackfillError(Exception):
    """The API refused or the answer made no sense; the message is for the operator."""


@dataclass
class ListingResult:
    seen: int = 0
    new: int = 0
    pages: int = 0
    not_modified: int = 0


@dataclass
class BackfillResult:
    repo: str
    commits: ListingResult = field(default_factory=ListingResult)
    pull_requests: ListingResult = field(default_factory=ListingResult)


@dataclass(frozen=True)
class _Page:
    url: str
    items: list[Any] | None  # None: 304, unchanged since the stored ETag


class _Api:
    def __init__(self, client: httpx.AsyncClient, api_url: str) -> None:
        self.client = client
        self.origin = httpx.URL(api_url)

    def check_same_origin(self, url: str) -> None:
        # The token goes with every request: never follow a link to another host.
        target = httpx.URL(url)
        if (target.scheme, target.host, target.port) != (
            self.origin.scheme,
            self.origin.host,
            self.origin.port,
        ):
            raise BackfillError(f"GitHub linked to another origin ({target.host}); stopped.")

    async def pages(
        self, first_url: str, cached: dict[str, dict[str, Any]], fresh: dict[str, dict[str, Any]]
    ) -> AsyncGenerator[_Page, None]:
        """Each page of a listing, following `Link: rel="next"`. `cached` holds the ETags
        of the last complete run; `fresh` receives this run's."""
        url: str | None = first_url
        first = True
        while url is not None:
            self.check_same_origin(url)
            known = cached.get(url)
            headers = {"If-None-Match": known["etag"]} if known else {}
            response = await self.client.get(url, headers=headers)
            if response.status_code == 304 and known:
                yield _Page(url, None)
                if first:
                    # Newest first: an unchanged first page, an unchanged listing, whose
                    # other pages keep the ETags they had.
                    fresh.update(cached)
                    return
                fresh[url] = known
                url, first = known.get("next"), False
                continue
            if response.status_code == 409 and first:  # an empty repository has no commits
                return
            _raise_for(response)
            try:
                items = response.json()
            except ValueError:
                raise BackfillError(f"GET {url}: the answer is not JSON.") from None
            if not isinstance(items, list):
                raise BackfillError(f"GET {url}: expected a JSON list.")
            next_url = response.links.get("next", {}).get("url")
            if etag := response.headers.get("etag"):
                fresh[url] = {"etag": etag, "next": next_url}
            yield _Page(url, items)
            url, first = next_url, False


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    where = f"GET {response.request.url.copy_with(query=None)}"
    try:
        message = str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        message = ""
    if response.status_code in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset", "")
        when = datetime.fromtimestamp(int(reset), UTC).isoformat() if reset.isdigit() else "later"
        raise BackfillError(f"{where}: GitHub rate limit exhausted; try again after {when}.")
    hints = {
        401: "the token was refused",
        404: "no such repository, or the token cannot see it",
    }
    hint = hints.get(response.status_code, message or response.reason_phrase)
    raise BackfillError(f"{where}: HTTP {response.status_code}, {hint}.")


def _commit_row(item: Any) -> github.CommitRow:
    commit = RestCommit.model_validate(item)
    detail = commit.commit
    # The committer date is when the commit took its current form (rebases included).
    dated = detail.committer if detail.committer and detail.committer.date else detail.author
    if dated is None or dated.date is None:
        raise ValueError(f"commit {commit.sha} has no date")
    name = detail.author.name if detail.author else None
    return github.CommitRow(
        sha=commit.sha,
        author=commit.author.login if commit.author else name,
        message=detail.message,
        committed_at=dated.date,
    )


def _listing_state(project: Project, repo: str, listing: str, since: datetime | None) -> Any:
    state = github.config_of(project).get("backfill", {}).get(repo.lower(), {}).get(listing, {})
    # The ETags are only good for the same question: another --since starts afresh.
    if state.get("since") != (since.isoformat() if since else None):
        return {}
    pages = state.get("pages")
    return pages if isinstance(pages, dict) else {}


async def _save_listing_state(
    session: AsyncSession,
    project: Project,
    repo: str,
    listing: str,
    since: datetime | None,
    pages: dict[str, dict[str, Any]],
    *,
    now: datetime,
) -> None:
    def change(config: dict[str, Any]) -> None:
        backfill = dict(config.get("backfill") or {})
        listings = dict(backfill.get(repo.lower()) or {})
        # Replaced, not merged: the stored state stays one run's worth of pages.
        listings[listing] = {
            "since": since.isoformat() if since else None,
            "pages": pages,
            "completed_at": now.isoformat(),
        }
        backfill[repo.lower()] = listings
        config["backfill"] = backfill

    await github.update_config(session, project, change)


async def backfill(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    project_id: str,
    repo: str,
    since: datetime | None,
    token: str | None,
    api_url: str = DEFAULT_API_URL,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BackfillResult:
    """Load `repo` (as the project spells it) into the project; each page is stored in
    its own transaction, so a long run keeps what it loaded if it is interrupted."""
    async with sessionmaker() as session:
        project = await session.get(Project, project_id)
        if project is None:
            raise BackfillError("The project no longer exists.")
        cached = {
            listing: _listing_state(project, repo, listing, since)
            for listing in ("commits", "pulls")
        }

    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": f"prodlens/{__version__}",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = api_url.rstrip("/")
    result = BackfillResult(repo=repo)
    async with httpx.AsyncClient(
        headers=headers, timeout=_TIMEOUT, transport=transport, follow_redirects=False
    ) as client:
        api = _Api(client, base)
        commits_url = str(
            httpx.URL(
                f"{base}/repos/{repo}/commits",
                params={"per_page": PER_PAGE, **({"since": since.isoformat()} if since else {})},
            )
        )
        fresh: dict[str, dict[str, Any]] = {}
        async for page in api.pages(commits_url, cached["commits"], fresh):
            await _store_commit_page(sessionmaker, project_id, repo, page, result.commits)
        await _finish(sessionmaker, project_id, repo, "commits", since, fresh, now=now)

        pulls_url = str(
            httpx.URL(
                f"{base}/repos/{repo}/pulls",
                params={
                    "state": "all",
                    "sort": "updated",
                    "direction": "desc",
                    "per_page": PER_PAGE,
                },
            )
        )
        fresh = {}
        async with aclosing(api.pages(pulls_url, cached["pulls"], fresh)) as pages:
            async for page in pages:
                older = await _store_pull_page(
                    sessionmaker, project_id, repo, page, result.pull_requests, since
                )
                if older:  # sorted by last update: the rest was not touched since
                    break
        await _finish(sessionmaker, project_id, repo, "pulls", since, fresh, now=now)
    return result


async def _store_commit_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    project_id: str,
    repo: str,
    page: _Page,
    tally: ListingResult,
) -> None:
    tally.pages += 1
    if page.items is None:
        tally.not_modified += 1
        return
    try:
        rows = [_commit_row(item) for item in page.items]
    except (ValidationError, ValueError) as exc:
        raise BackfillError(f"GET {page.url}: a commit is not understood ({exc}).") from None
    async with sessionmaker() as session, session.begin():
        tally.new += await github.store_commits(session, project_id, repo, rows)
    tally.seen += len(rows)


async def _store_pull_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    project_id: str,
    repo: str,
    page: _Page,
    tally: ListingResult,
    since: datetime | None,
) -> bool:
    """Store a page; True when it reached pull requests last updated before `since`."""
    tally.pages += 1
    if page.items is None:
        tally.not_modified += 1
        return False
    try:
        pulls = [PullRequestData.model_validate(item) for item in page.items]
    except ValidationError as exc:
        raise BackfillError(f"GET {page.url}: a pull request is not understood ({exc}).") from None
    wanted = [pr for pr in pulls if since is None or pr.updated_at >= since]
    async with sessionmaker() as session, session.begin():
        for pr in wanted:
            _, created = await github.upsert_pull_request(
                session, project_id, repo, pr, reopened=False
            )
            tally.new += created
    tally.seen += len(wanted)
    return len(wanted) < len(pulls)


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    project_id: str,
    repo: str,
    listing: str,
    since: datetime | None,
    fresh: dict[str, dict[str, Any]],
    *,
    now: datetime,
) -> None:
    async with sessionmaker() as session, session.begin():
        project = await session.get(Project, project_id)
        if project is not None:
            await _save_listing_state(session, project, repo, listing, since, fresh, now=now)
