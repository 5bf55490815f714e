"""`prodlens copilot …`: GitHub Copilot usage reports, from a file or from the REST API."""

from __future__ import annotations

from datetime import date
from pathlib import Path
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
    from prodlens.analytics.copilot import CopilotImport
    from prodlens.config import Settings
    from prodlens.integrations.copilot_fetch import FetchResult
    from prodlens.projects.models import Project

app = typer.Typer(
    cls=CliGroup,
    help="GitHub Copilot usage metrics: import reports, fetch them from GitHub.",
    no_args_is_help=True,
)


async def _import(settings: Settings, body: bytes, reference: str) -> tuple[Project, CopilotImport]:
    from prodlens.analytics.copilot import InvalidReport, import_report
    from prodlens.kit.clock import SystemClock

    async with migrated_database(settings) as database:
        async with database.sessionmaker() as session, session.begin():
            project = await require_project(session, reference)
            try:
                outcome = await import_report(session, project.id, body, SystemClock().now())
            except InvalidReport as exc:
                raise CliError(exc.detail or exc.title) from None
        return project, outcome


@app.command("import", cls=CliCommand)
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A per-user usage report: NDJSON as GitHub's download links serve it, "
            "or a JSON array of its records.",
        ),
    ],
    project: Annotated[str, typer.Option("--project", "-p", help="Project id or slug.")],
) -> None:
    """Import a Copilot per-user usage report (a day imported again replaces what it held)."""
    from rich.markup import escape

    settings = load_settings()
    target, outcome = run(_import(settings, file.read_bytes(), project))
    console.print(
        f"{file.name} → {target.slug}: {outcome.records} record(s) of {outcome.developers} "
        f"user(s) over {outcome.days} day(s); {outcome.facts} fact(s) stored, "
        f"{outcome.duplicates} duplicate(s), {outcome.rejected} rejected"
    )
    for rejection in outcome.rejections:
        console.print(f"  [yellow]rejected[/] {escape(rejection)}", highlight=False, soft_wrap=True)
    if outcome.rejected > len(outcome.rejections):
        console.print(f"  … and {outcome.rejected - len(outcome.rejections)} more rejected")


async def _fetch(
    settings: Settings, reference: str, since: date | None
) -> tuple[Project, FetchResult]:
    from prodlens.analytics.copilot import import_report
    from prodlens.integrations.copilot_fetch import CopilotFetchError, fetch_project
    from prodlens.kit.clock import SystemClock

    async with migrated_database(settings) as database:
        async with database.sessionmaker() as session:
            project = await require_project(session, reference)
        try:
            result = await fetch_project(
                database.sessionmaker,
                project.id,
                store=import_report,
                secret_key=settings.secret_key.get_secret_value(),
                settings=settings.copilot,
                now=SystemClock().now(),
                since=since,
            )
        except CopilotFetchError as exc:
            raise CliError(str(exc)) from None
        return project, result


@app.command("fetch", cls=CliCommand)
def fetch_command(
    project: Annotated[str, typer.Option("--project", "-p", help="Project id or slug.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Fetch from this day (YYYY-MM-DD) again; default: the days since the last "
            "fetched one (the first time, PRODLENS_COPILOT__INITIAL_DAYS)."
        ),
    ] = None,
) -> None:
    """Fetch the project's Copilot per-user daily reports from the GitHub REST API."""
    settings = load_settings()
    day = None
    if since is not None:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise CliError(f"--since {since!r} is not a day (YYYY-MM-DD).", exit_code=2) from None
    target, result = run(_fetch(settings, project, day))
    console.print(
        f"Copilot → {target.slug}: {len(result.days)} day(s) stored "
        f"({result.records} record(s), {result.files} file(s), {result.rejected} rejected); "
        f"{len(result.missing)} day(s) without a report"
    )
    if result.waited_seconds:
        console.print(f"  waited {result.waited_seconds:.0f} s for GitHub's rate limit")
    if result.missing and not result.days:
        errors.print(
            "[yellow]GitHub had no report for any day asked:[/] check the organization or "
            "enterprise name, that the token can see it, and that the Copilot usage metrics "
            "policy is enabled."
        )
