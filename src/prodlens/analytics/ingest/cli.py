"""`prodlens ingest FILE --project P`: load a JSONL file of events into a project.

Lines may be native events, LiteLLM payloads or OTLP/JSON exports, detected
per line. Items go through the same `service.ingest` as the API, in batches of
at most 1,000, each committed on its own: an interrupted load can be run again,
and what was stored comes back as duplicates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from prodlens.analytics.ingest import jsonl, service
from prodlens.analytics.ingest.events import MAX_BATCH, Rejection
from prodlens.analytics.ingest.service import IngestResponse
from prodlens.config import Settings
from prodlens.kit.clock import Clock, SystemClock
from prodlens.kit.db import Database
from prodlens.kit.migrations import head_revisions
from prodlens.projects.deps import find_project
from prodlens.projects.models import Project

MAX_SHOWN_REJECTIONS = 20
Batch = list[tuple[int, Any]]  # (line number, item)


class IngestFailed(Exception):
    pass


@dataclass
class Tally:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)

    def add(self, batch: Batch, response: IngestResponse) -> None:
        self.accepted += response.summary.accepted
        self.duplicate += response.summary.duplicate
        self.rejected += response.summary.rejected
        for result in response.results:
            if result.status == "rejected" and len(self.rejections) < MAX_SHOWN_REJECTIONS:
                line = batch[result.index][0]
                which = f" ({result.event_id})" if result.event_id else ""
                self.rejections.append(f"line {line}{which}: {result.reason}")


def batches(lines: Iterator[tuple[int, bytes]]) -> Iterator[Batch]:
    """Items of consecutive lines, at most MAX_BATCH at a time (an OTLP line may
    hold many spans, so a batch can end inside a line)."""
    batch: Batch = []
    for number, line in lines:
        if not line.strip():
            continue
        for item in jsonl.items_from_line(line):
            batch.append((number, item))
            if len(batch) == MAX_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


async def _project_id(database: Database, reference: str) -> str:
    if await database.current_revision() not in head_revisions():
        raise IngestFailed("The database is not migrated: run `prodlens migrate` first.")
    async with database.sessionmaker() as session:
        project = await find_project(session, reference)
    if project is None:
        raise IngestFailed(f"No project with id or slug {reference!r}.")
    return project.id


async def _store(
    database: Database, project_id: str, items: Sequence[Any | Rejection], clock: Clock
) -> IngestResponse:
    async with database.sessionmaker() as session, session.begin():
        project = await session.get(Project, project_id)
        if project is None:  # deleted while loading
            raise IngestFailed("The project was deleted during the load.")
        return await service.ingest(session, project, items, source="jsonl", clock=clock)


def _numbered(path: Path, progress: Progress, task: Any) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            progress.advance(task, len(line))
            yield number, line


def _load(settings: Settings, path: Path, reference: str, progress: Progress) -> Tally:
    tally = Tally()
    clock = SystemClock()
    # One event loop for the whole load; the file is read between batches, off it.
    with asyncio.Runner() as runner:
        database = Database(settings)
        try:
            project_id = runner.run(_project_id(database, reference))
            task = progress.add_task(path.name, total=path.stat().st_size)
            for batch in batches(_numbered(path, progress, task)):
                items = [item for _, item in batch]
                tally.add(batch, runner.run(_store(database, project_id, items, clock)))
        finally:
            runner.run(database.dispose())
    return tally


def _summary(tally: Tally) -> Table:
    table = Table(title="Ingested")
    for name in ("accepted", "duplicate", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(str(tally.accepted), str(tally.duplicate), str(tally.rejected))
    return table


def ingest_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="A JSONL file, one item per line."
        ),
    ],
    project: Annotated[str, typer.Option("--project", "-p", help="Project id or slug.")],
) -> None:
    """Load events from a JSONL file: native events, LiteLLM payloads or OTLP/JSON lines."""
    # Imported here: prodlens.cli imports this module to register the command.
    from prodlens.cli import console, errors, load_settings

    settings = load_settings()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            tally = _load(settings, file, project, progress)
    except IngestFailed as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(_summary(tally))
    for rejection in tally.rejections:
        console.print(f"  [yellow]rejected[/] {escape(rejection)}", highlight=False, soft_wrap=True)
    if tally.rejected > len(tally.rejections):
        console.print(f"  … and {tally.rejected - len(tally.rejections)} more rejected")
