"""`prodlens github …`: the backfill from the GitHub REST API."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer
from rich.console import Console
from sqlalchemy import select

from prodlens.config import Settings
from prodlens.integrations.backfill import DEFAULT_API_URL, BackfillError, BackfillResult, backfill
from prodlens.integrations.github import repository_name
from prodlens.kit.clock import SystemClock
from prodlens.kit.db import Database
from prodlens.kit.migrations import head_revisions
from prodlens.projects.deps import find_project
from prodlens.projects.models import Project

github_cli = typer.Typer(help="GitHub: load commits and pull requests.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


class _Refused(Exception):
    """A reason to stop that the operator can act on."""


async def _target(database: Database, repo: str, reference: str | None) -> tuple[Project, str]:
    """The project and the repository as that project spells it."""
    if await database.current_revision() not in head_revisions():
        raise _Refused("The database is not migrated: run `prodlens migrate` first.")
    async with database.sessionmaker() as session:
        if reference is not None:
            project = await find_project(session, reference)
            if project is None:
                raise _Refused(f"No project {reference!r} (give its id or slug).")
            candidates = [project]
        else:
            candidates = list(await session.scalars(select(Project)))
    matches = [
        (project, name)
        for project in candidates
        for name in project.repos
        if name.lower() == repo.lower()
    ]
    if not matches:
        where = f"project {candidates[0].slug!r}" if reference is not None else "any project"
        raise _Refused(f"{repo} is not among the repositories of {where}; add it there first.")
    if len(matches) > 1:
        slugs = ", ".join(project.slug for project, _ in matches)
        raise _Refused(f"{repo} belongs to several projects ({slugs}): choose one with --project.")
    return matches[0]


async def _run(
    settings: Settings,
    repo: str,
    reference: str | None,
    since: datetime | None,
    token: str | None,
    api_url: str,
) -> tuple[Project, BackfillResult]:
    database = Database(settings)
    try:
        project, spelled = await _target(database, repo, reference)
        result = await backfill(
            database.sessionmaker,
            project_id=project.id,
            repo=spelled,
            since=since,
            token=token,
            api_url=api_url,
            now=SystemClock().now(),
        )
        return project, result
    finally:
        await database.dispose()


@github_cli.command("backfill")
def backfill_command(
    repo: Annotated[str, typer.Option("--repo", help="The repository, owner/name.")],
    project: Annotated[
        str | None,
        typer.Option(help="Project id or slug (default: the one project listing the repo)."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only commits and pull requests from this date (UTC unless given)."),
    ] = None,
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding a GitHub token.")
    ] = "GITHUB_TOKEN",  # noqa: S107 (the variable's name, not a token)
    api_url: Annotated[
        str, typer.Option(help="GitHub REST API base URL (GitHub Enterprise: …/api/v3).")
    ] = DEFAULT_API_URL,
) -> None:
    """Load a repository's commits and pull requests (idempotent; repeat runs are cheap)."""
    from prodlens.cli import load_settings  # here: prodlens.cli imports this module

    settings = load_settings()
    try:
        name = repository_name(repo)
    except ValueError as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    token = os.environ.get(token_env) or None
    if token is None:
        errors.print(
            f"[yellow]No token in ${token_env}:[/] anonymous requests (public repositories, "
            "60 requests per hour)."
        )
    try:
        target, result = asyncio.run(_run(settings, name, project, since, token, api_url))
    except (_Refused, BackfillError) as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    except (OSError, httpx.HTTPError) as exc:  # network trouble: say what, not a traceback
        errors.print(f"[red]GitHub could not be reached:[/] {exc}")
        raise typer.Exit(1) from None
    for label, listing in (("commits", result.commits), ("pull requests", result.pull_requests)):
        console.print(
            f"{result.repo} → {target.slug}: {label}: {listing.seen} read, {listing.new} new; "
            f"{listing.pages} page(s), {listing.not_modified} unchanged (304)"
        )
