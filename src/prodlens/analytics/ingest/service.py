"""Ingesting a batch: normalize each item, store the valid ones, answer per item."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.ingest.events import MAX_BATCH, Rejection, normalize
from prodlens.analytics.ingest.store import store_events
from prodlens.analytics.pricing import project_prices
from prodlens.kit.clock import Clock
from prodlens.kit.errors import ProblemError
from prodlens.observability import metrics
from prodlens.projects.models import Project


class BatchTooLarge(ProblemError):
    status, code, title = 422, "ingest.batch_too_large", "Too many events in one batch"


class InvalidBatch(ProblemError):
    status, code, title = 422, "ingest.invalid_batch", "The batch is not in a supported shape"


Outcome = Literal["accepted", "duplicate", "rejected"]


class ItemResult(BaseModel):
    index: int
    event_id: str | None
    status: Outcome
    reason: str | None = None


class IngestSummary(BaseModel):
    received: int
    accepted: int
    duplicate: int
    rejected: int


class IngestResponse(BaseModel):
    summary: IngestSummary
    results: list[ItemResult]


def check_size(items: Sequence[Any]) -> None:
    if len(items) > MAX_BATCH:
        raise BatchTooLarge(f"Send at most {MAX_BATCH} events per batch ({len(items)} sent).")


async def ingest(
    session: AsyncSession,
    project: Project,
    items: Sequence[Any | Rejection],
    *,
    source: str,
    clock: Clock,
) -> IngestResponse:
    """`items` are native-shaped dicts (adapters map their formats first) or the
    rejections an adapter already decided; results keep their order."""
    check_size(items)
    started = time.perf_counter()
    now = clock.now().astimezone(UTC)
    prices = project_prices(project.settings.get("prices"))
    results: list[ItemResult] = []
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        normalized = (
            item
            if isinstance(item, Rejection)
            else normalize(item, source=source, now=now, prices=prices)
        )
        if isinstance(normalized, Rejection):
            results.append(
                ItemResult(
                    index=index,
                    event_id=normalized.event_id,
                    status="rejected",
                    reason=normalized.reason,
                )
            )
        elif normalized["event_id"] in seen:
            results.append(
                ItemResult(
                    index=index,
                    event_id=normalized["event_id"],
                    status="duplicate",
                    reason="repeated within this batch",
                )
            )
        else:
            seen.add(normalized["event_id"])
            rows.append(normalized)
            results.append(
                ItemResult(index=index, event_id=normalized["event_id"], status="accepted")
            )

    stored = await store_events(session, project.id, rows)
    for result in results:
        if result.status == "accepted" and result.event_id not in stored.inserted:
            result.status, result.reason = "duplicate", "already ingested"
    counts = {
        outcome: sum(r.status == outcome for r in results)
        for outcome in ("accepted", "duplicate", "rejected")
    }
    for outcome, count in counts.items():
        if count:
            metrics.INGEST_EVENTS.labels(source, outcome).inc(count)
    metrics.INGEST_BATCH_DURATION.labels(source).observe(time.perf_counter() - started)
    for row in rows:
        if row["event_id"] in stored.inserted:
            ended = row["ended_at"] or row["started_at"]
            metrics.INGEST_DELAY.observe(max((now - ended).total_seconds(), 0))
    return IngestResponse(summary=IngestSummary(received=len(items), **counts), results=results)
