"""Ingesting a batch: normalize each item, store the valid ones, answer per item.

`ingest` takes native-shaped items; `ingest_document` a parsed JSON body in any
of the JSON formats, `ingest_otlp_traces` an OTLP/HTTP trace export body;
`ingest_otlp_metrics` and `ingest_otlp_logs` OTLP/HTTP metrics and logs (Claude
Code, GenAI metrics), which become assistant facts and, for model calls, events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import anyio.to_thread
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import live
from prodlens.analytics.assistant_facts import add_facts
from prodlens.analytics.identities import Sighting, record_sightings
from prodlens.analytics.ingest import otlp_logs, otlp_metrics, otlp_wire
from prodlens.analytics.ingest.claude_code import Who
from prodlens.analytics.ingest.events import MAX_BATCH, Rejection, normalize
from prodlens.analytics.ingest.store import store_events
from prodlens.analytics.pricing import project_prices
from prodlens.kit.clock import Clock
from prodlens.kit.errors import ProblemError
from prodlens.kit.json_limits import UNSTORABLE, sendable, storable, unstorable_text
from prodlens.observability import metrics
from prodlens.projects.models import Project
from prodlens.realtime.service import Publisher, publish_batch_after_commit


class BatchTooLarge(ProblemError):
    status, code, title = 422, "ingest.batch_too_large", "Too many events in one batch"


class InvalidBatch(ProblemError):
    status, code, title = 422, "ingest.invalid_batch", "The batch is not in a supported shape"


Outcome = Literal["accepted", "duplicate", "rejected"]

# Session updates announced per batch on the live feed; a client that needs every
# session of a huge batch reads the sessions list.
MAX_LIVE_SESSIONS = 100


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


def as_items(document: Any, *, key: str = "events") -> list[Any]:
    """A list of items from `[...]`, `{"events": [...]}` or a single object."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        inner = document.get(key)
        if isinstance(inner, list):
            others = sorted(sendable(str(name)) for name in document if name != key)
            if others:  # a typo beside the batch must not pass unnoticed
                raise InvalidBatch(f"Unknown fields beside {key!r}: {', '.join(others[:5])}.")
            return inner
        if inner is None:
            return [document]
    raise InvalidBatch(f"Send a JSON array, an object with {key!r}, or a single event.")


async def ingest(
    session: AsyncSession,
    project: Project,
    items: Sequence[Any | Rejection],
    *,
    source: str,
    clock: Clock,
    publisher: Publisher | None = None,
) -> IngestResponse:
    """`items` are native-shaped dicts (adapters map their formats first) or the
    rejections an adapter already decided; results keep their order. With a
    `publisher`, the batch is announced on the live feed once it commits."""
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
            # An adapter's rejection may quote the input: answered, it must encode.
            event_id = normalized.event_id
            results.append(
                ItemResult(
                    index=index,
                    event_id=event_id if event_id is None or storable(event_id) else None,
                    status="rejected",
                    reason=sendable(normalized.reason),
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
    new_rows = [row for row in rows if row["event_id"] in stored.inserted]
    for row in new_rows:
        ended = row["ended_at"] or row["started_at"]
        metrics.INGEST_DELAY.observe(max((now - ended).total_seconds(), 0))
    if publisher is not None:
        touched = sorted({row["session_id"] for row in new_rows if row["session_id"]})
        publish_batch_after_commit(
            session,
            publisher,
            project.id,
            live.batch_summary(project.id, source, counts, new_rows),
            touched[-MAX_LIVE_SESSIONS:],
        )
    return IngestResponse(summary=IngestSummary(received=len(items), **counts), results=results)


async def ingest_document(
    session: AsyncSession,
    project: Project,
    document: Any,
    *,
    source: str,
    clock: Clock,
    adapt: Callable[[Any], Any] | None = None,
    identify: Callable[[Any], Sighting | None] | None = None,
    publisher: Publisher | None = None,
) -> IngestResponse:
    """A parsed JSON batch (array, `{"events": [...]}` or single object), each item
    mapped to the native shape by `adapt` when the format needs it; `identify` finds
    the people an item names under two identities (automatic identity links)."""
    raw = as_items(document)
    check_size(raw)  # before adapting: an oversized batch costs no mapping
    items = raw if adapt is None else [adapt(item) for item in raw]
    response = await ingest(
        session, project, items, source=source, clock=clock, publisher=publisher
    )
    if identify is not None:
        found = [
            sighting
            for item, result in zip(raw, response.results, strict=True)
            if result.status != "rejected"
            and (sighting := identify(item)) is not None
            and unstorable_text((sighting.identity, sighting.email)) is None
        ]
        await record_sightings(session, project.id, found, clock.now())
    return response


# Smaller bodies are decoded on the event loop: the hop to a thread would cost more.
_DECODE_INLINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class OtlpResponse:
    content: bytes
    media_type: str


async def ingest_otlp_traces(
    session: AsyncSession,
    project: Project,
    body: bytes,
    *,
    media_type: str,
    encoding: str,
    limit: int,
    max_depth: int,
    clock: Clock,
    publisher: Publisher | None = None,
) -> OtlpResponse:
    """An OTLP/HTTP trace export request's body (`media_type` bare and lower case,
    `limit` the decompressed size allowed) → its export response."""
    request = await _decode(otlp_wire.decode_request, body, media_type, encoding, limit, max_depth)
    rejected = [
        (r.event_id, r.reason or "")
        for r in await _ingest_sliced(session, project, request.items, "otlp", clock, publisher)
    ]
    content = otlp_wire.export_response(rejected, protobuf=request.protobuf)
    return OtlpResponse(content, _media_type(request.protobuf))


async def _ingest_sliced(
    session: AsyncSession,
    project: Project,
    items: Sequence[Any | Rejection],
    source: str,
    clock: Clock,
    publisher: Publisher | None,
) -> list[ItemResult]:
    """An exporter cannot be asked to split its batch: store it in slices of the batch
    limit, all in the caller's one transaction; the rejected items' results."""
    rejected: list[ItemResult] = []
    for start in range(0, len(items), MAX_BATCH):
        result = await ingest(
            session,
            project,
            items[start : start + MAX_BATCH],
            source=source,
            clock=clock,
            publisher=publisher,
        )
        rejected += [r for r in result.results if r.status == "rejected"]
    return rejected


Decoded = TypeVar("Decoded")


async def _decode(
    decode: Callable[[bytes, str, str, int, int], Decoded],
    body: bytes,
    media_type: str,
    encoding: str,
    limit: int,
    max_depth: int,
) -> Decoded:
    if len(body) > _DECODE_INLINE_BYTES or encoding:
        return await anyio.to_thread.run_sync(decode, body, media_type, encoding, limit, max_depth)
    return decode(body, media_type, encoding, limit, max_depth)


def _unstorable(name: str, attributes: Any, resource: Any, scope: str = "") -> str | None:
    """Why an OTLP point or record cannot be stored, if its text cannot."""
    where = unstorable_text({"name": name, "attributes": attributes, "resource": resource})
    if where is None and unstorable_text(scope) is not None:
        where = "scope"
    return None if where is None else f"{where} {UNSTORABLE}"


def _media_type(protobuf: bool) -> str:
    return otlp_wire.PROTOBUF if protobuf else otlp_wire.JSON


async def _link_people(
    session: AsyncSession, project_id: str, people: Iterable[Who], now: datetime
) -> None:
    """Ids reported together with an email (an account UUID, an installation id) are
    linked to the developer of that email."""
    sightings = {
        (other, person.email): Sighting(identity=other, kind="otel", email=person.email)
        for person in people
        if person.email
        for other in person.other_ids
    }
    if sightings:
        await record_sightings(session, project_id, sightings.values(), now)


async def ingest_otlp_metrics(
    session: AsyncSession,
    project: Project,
    body: bytes,
    *,
    media_type: str,
    encoding: str,
    limit: int,
    max_depth: int,
    clock: Clock,
) -> OtlpResponse:
    """An OTLP/HTTP metrics export request's body → its export response. Points of
    Claude Code's and the GenAI metrics become daily facts; other metrics are skipped."""
    export = await _decode(otlp_wire.decode_metrics, body, media_type, encoding, limit, max_depth)
    now = clock.now().astimezone(UTC)
    rejected: list[str] = []
    points: list[otlp_metrics.MetricPoint] = []
    for item in export.points:
        reason = (
            item.reason
            if isinstance(item, Rejection)
            else _unstorable(item.name, item.attributes, item.resource)
            or otlp_metrics.check(item, now)
        )
        if reason is not None:
            rejected.append(reason)
        elif not isinstance(item, Rejection):
            points.append(item)
    stored = await otlp_metrics.store_points(session, project.id, points, now)
    await _link_people(session, project.id, stored.people, now)
    content = otlp_wire.metrics_response(rejected, protobuf=export.protobuf)
    return OtlpResponse(content, _media_type(export.protobuf))


async def ingest_otlp_logs(
    session: AsyncSession,
    project: Project,
    body: bytes,
    *,
    media_type: str,
    encoding: str,
    limit: int,
    max_depth: int,
    clock: Clock,
    publisher: Publisher | None = None,
) -> OtlpResponse:
    """An OTLP/HTTP logs export request's body → its export response. Claude Code's
    model calls become events, its decisions, tool results and prompts (lengths only)
    facts; other records are skipped."""
    export = await _decode(otlp_wire.decode_logs, body, media_type, encoding, limit, max_depth)
    now = clock.now().astimezone(UTC)
    checked = [
        item
        if isinstance(item, Rejection)
        else Rejection(reason)
        if (reason := _unstorable(item.event_name, item.attributes, item.resource, item.scope))
        else item
        for item in export.records
    ]
    rejected = [item.reason for item in checked if isinstance(item, Rejection)]
    records = [item for item in checked if not isinstance(item, Rejection)]
    mapped = otlp_logs.map_records(records, now)
    rejected += mapped.rejected
    turned_down = await _ingest_sliced(
        session, project, mapped.events, "claude_code", clock, publisher
    )
    rejected += [f"{r.event_id or '?'}: {r.reason}" for r in turned_down]
    # A record's facts count once, however often its export is sent.
    streams = {key: otlp_metrics.stream_key("log", key) for key, _ in mapped.facts}
    fresh = await otlp_metrics.first_sightings(session, project.id, streams.values(), now)
    facts = [fact for key, fact in mapped.facts if streams[key] in fresh]
    await add_facts(session, project.id, facts, now)
    await _link_people(session, project.id, mapped.people, now)
    content = otlp_wire.logs_response(rejected, protobuf=export.protobuf)
    return OtlpResponse(content, _media_type(export.protobuf))
