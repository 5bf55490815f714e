"""`prodlens github …`: the backfill from the GitHub REST API."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from prodlens.cli.common import (
    CliCommand,
    CliError,
    CliGroup,
    console,
    errors,
    load_settings,
    migrated_database,
    require_project,
    run,
)

if TYPE_CHECKING:
    from prodlens.config import Settings
    from prodlens.integrations.backfill import BackfillResult
    from prodlens.kit.db import Database
    from prodlens.projects.models import Project

# The default of `integrations.backfill` (a test keeps the two equal), spelled out here so
# that `--help` need not import the backfill and its HTTP client.
GITHUB_API_URL = "https://api.github.com"

app = typer.Typer(
    cls=CliGroup, help="GitHub: load commits and pull requests.", no_args_is_help=True
)


async def _target(database: Database, repo: str, reference: str | None) -> tuple[Project, str]:
    """The project and the repository as that project spells it."""
    from sqlalchemy import select

    from prodlens.projects.models import Project

    async with database.sessionmaker() as session:
        if reference is not None:
            candidates = [await require_project(session, reference)]
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
        raise CliError(f"{repo} is not among the repositories of {where}; add it there first.")
    if len(matches) > 1:
        slugs = ", ".join(project.slug for project, _ in matches)
        raise CliError(f"{repo} belongs to several projects ({slugs}): choose one with --project.")
    return matches[0]


async def _run(
    settings: Settings,
    repo: str,
    reference: str | None,
    since: datetime | None,
    token: str | None,
    api_url: str,
) -> tuple[Project, BackfillResult]:
    import httpx

    from prodlens.integrations.backfill import BackfillError, backfill
    from prodlens.kit.clock import SystemClock

    async with migrated_database(settings) as database:
        project, spelled = await _target(database, repo, reference)
        try:
            result = await backfill(
                database.sessionmaker,
                project_id=project.id,
                repo=spelled,
                since=since,
                token=token,
                api_url=api_url,
                now=SystemClock().now(),
            )
        except BackfillError as exc:
            raise CliError(str(exc)) from None
        except (OSError, httpx.HTTPError) as exc:  # network trouble: say what, not a traceback
            raise CliError(f"GitHub could not be reached: {exc}") from None
        return project, result


@app.command("backfill", cls=CliCommand)
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
    ] = GITHUB_API_URL,
) -> None:
    """Load a repository's commits and pull requests (idempotent; repeat runs are cheap)."""
    from prodlens.integrations.github import repository_name

    settings = load_settings()
    try:
        name = repository_name(repo)
    except ValueError as exc:
        raise CliError(str(exc), exit_code=2) from None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    token = os.environ.get(token_env) or None
    if token is None:
        errors.print(
            f"[yellow]No token in ${token_env}:[/] anonymous requests (public repositories, "
            "60 requests per hour)."
        )
    target, result = run(_run(settings, name, project, since, token, api_url))
    for label, listing in (("commits", result.commits), ("pull requests", result.pull_requests)):
        console.print(
            f"{result.repo} → {target.slug}: {label}: {listing.seen} read, {listing.new} new; "
            f"{listing.pages} page(s), {listing.not_modified} unchanged (304)"
        )
