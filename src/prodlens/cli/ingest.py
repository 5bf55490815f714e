"""`prodlens ingest FILE --project P`: a JSONL file of events into a project."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prodlens.cli.common import (
    CliError,
    console,
    load_settings,
    migrated_database,
    require_project,
    run,
)

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from prodlens.analytics.ingest.jsonl_file import Tally
    from prodlens.config import Settings


async def _load(
    settings: Settings, path: Path, size: int, reference: str, progress: Progress
) -> Tally:
    from prodlens.analytics.ingest.jsonl_file import ProjectGone, load_file
    from prodlens.kit.clock import SystemClock

    async with migrated_database(settings) as database:
        async with database.sessionmaker() as session:
            project = await require_project(session, reference)
        advance = partial(progress.advance, progress.add_task(path.name, total=size))
        try:
            return await load_file(
                database.sessionmaker, project.id, path, clock=SystemClock(), on_read=advance
            )
        except ProjectGone:
            raise CliError("The project was deleted during the load.") from None


def _summary(tally: Tally) -> Table:
    from rich.table import Table

    table = Table(title="Ingested")
    for name in ("accepted", "duplicate", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(str(tally.accepted), str(tally.duplicate), str(tally.rejected))
    return table


def ingest(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="A JSONL file, one item per line."
        ),
    ],
    project: Annotated[str, typer.Option("--project", "-p", help="Project id or slug.")],
    fail_on_rejected: Annotated[
        bool,
        typer.Option(
            "--fail-on-rejected",
            help="Exit with status 1 when any line was rejected (for CI jobs).",
        ),
    ] = False,
) -> None:
    """Load events from a JSONL file: native events, LiteLLM payloads or OTLP/JSON lines.

    Batches of up to 1,000 items are committed one by one, so an interrupted load can be
    run again: what was stored already comes back as duplicates.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    settings = load_settings()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tally = run(_load(settings, file, file.stat().st_size, project, progress))
    console.print(_summary(tally))
    for rejection in tally.rejections:
        console.print(f"  [yellow]rejected[/] {escape(rejection)}", highlight=False, soft_wrap=True)
    if tally.rejected > len(tally.rejections):
        console.print(f"  … and {tally.rejected - len(tally.rejections)} more rejected")
    if fail_on_rejected and tally.rejected:
        raise typer.Exit(1)
