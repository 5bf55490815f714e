"""Loading a JSONL file of events into a project (what `prodlens ingest` runs).

Lines may be native events, LiteLLM payloads or OTLP/JSON exports, detected
per line. Items go through the same `service.ingest` as the API, in batches of
at most 1,000, each committed on its own: an interrupted load can be run again,
and what was stored comes back as duplicates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.analytics.ingest import jsonl, service
from prodlens.analytics.ingest.events import MAX_BATCH, Rejection
from prodlens.analytics.ingest.service import IngestResponse
from prodlens.kit.clock import Clock
from prodlens.projects.models import Project

MAX_SHOWN_REJECTIONS = 20
Batch = list[tuple[int, Any]]  # (line number, item)


class ProjectGone(Exception):
    """The project was deleted while its file was being loaded."""


@dataclass
class Tally:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)  # the first MAX_SHOWN_REJECTIONS

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


def _numbered(handle: BinaryIO, on_read: Callable[[int], None]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(handle, start=1):
        on_read(len(line))
        yield number, line


def _file_batches(path: Path, on_read: Callable[[int], None]) -> Generator[Batch, None, None]:
    with path.open("rb") as handle:
        yield from batches(_numbered(handle, on_read))


async def _store(
    sessionmaker: async_sessionmaker[AsyncSession],
    project_id: str,
    items: Sequence[Any | Rejection],
    clock: Clock,
) -> IngestResponse:
    async with sessionmaker() as session, session.begin():
        project = await session.get(Project, project_id)
        if project is None:
            raise ProjectGone()
        return await service.ingest(session, project, items, source="jsonl", clock=clock)


async def load_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    project_id: str,
    path: Path,
    *,
    clock: Clock,
    on_read: Callable[[int], None] = lambda size: None,
) -> Tally:
    """Every line of `path` into the project; `on_read` hears of each line's size in bytes
    as it is read (from a worker thread)."""
    tally = Tally()
    with closing(_file_batches(path, on_read)) as pending:
        # The file is read and parsed in a thread, off the event loop, a batch at a time.
        while (batch := await asyncio.to_thread(next, pending, None)) is not None:
            items = [item for _, item in batch]
            tally.add(batch, await _store(sessionmaker, project_id, items, clock))
    return tally
