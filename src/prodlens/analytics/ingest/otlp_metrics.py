"""OTLP metric points → daily assistant facts.

Two families are read, everything else is ignored: Claude Code's `claude_code.*`
counters (mapped in `claude_code.py`) and the OpenTelemetry GenAI client metrics
(`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`), from any SDK.

Temporality. A delta point's value is what happened in its interval: it is added
as sent. A cumulative point carries the total since its start time, so the last
value of each stream is kept in `otlp_cumulative_points` and only the increase is
added; a new start time or a lower value is a reset (the sender restarted) and
counts whole. A point no newer than the last one seen of its stream (a re-sent
export) adds nothing. Either way the day is the point's time, in UTC.

The same table makes fact-bearing log records count once: each is a stream seen
once (`first_sightings`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.assistant_facts import Fact, add_facts
from prodlens.analytics.ingest import claude_code
from prodlens.analytics.ingest.claude_code import Who
from prodlens.analytics.ingest.events import FUTURE_TOLERANCE
from prodlens.analytics.ingest.fields import first_text, text
from prodlens.analytics.models import OtlpCumulativePoint
from prodlens.kit.db import DialectInsert, insert_ignoring_conflicts

GENAI_SOURCE = "otel"
TOKEN_USAGE = "gen_ai.client.token.usage"
OPERATION_DURATION = "gen_ai.client.operation.duration"
_NEVER = -1  # start time of a stream row made before its first point is read
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SLICE = 400  # streams per statement: within every database's parameter limits


@dataclass(frozen=True)
class MetricPoint:
    """One data point of a sum or histogram, decoded from JSON or protobuf."""

    name: str
    cumulative: bool
    start: int  # start_time_unix_nano; 0 when unset
    time: int  # time_unix_nano
    value: float  # a sum's value, a histogram's sum
    count: float | None = None  # a histogram's count; None for sums
    attributes: Mapping[str, Any] = field(default_factory=dict)
    resource: Mapping[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return _datetime(self.time)


def _datetime(nanos: int) -> datetime:
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def is_known(name: str) -> bool:
    return name.startswith(claude_code.METRIC_PREFIX) or name in (
        TOKEN_USAGE,
        OPERATION_DURATION,
    )


def check(point: MetricPoint, now: datetime) -> str | None:
    """Why a point of a known metric cannot be counted, or None."""
    if point.time <= 0:
        return f"{point.name}: timeUnixNano is required"
    try:
        at = point.at
    except OverflowError:
        return f"{point.name}: timeUnixNano is not a valid time"
    if at > now + FUTURE_TOLERANCE:
        return f"{point.name}: the point's time is in the future"
    if point.value < 0 or (point.count is not None and point.count < 0):
        return f"{point.name}: a counter cannot be negative"
    return None


# --- cumulative streams ---------------------------------------------------------------


def stream_key(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Reading:
    stream: str
    start: int
    time: int
    value: float


async def _locked_streams(
    session: AsyncSession, project_id: str, streams: Sequence[str]
) -> dict[str, tuple[int, float, datetime]]:
    """Each stream's (start, last value, last time), rows created first when new so
    they can be locked (concurrent exports of one stream then take turns)."""
    table = OtlpCumulativePoint.__table__
    state: dict[str, tuple[int, float, datetime]] = {}
    for offset in range(0, len(streams), _SLICE):
        chunk = streams[offset : offset + _SLICE]
        placeholders = [
            {
                "project_id": project_id,
                "stream": stream,
                "start_unix_nano": _NEVER,
                "value": 0.0,
                "seen_at": _EPOCH,
            }
            for stream in chunk
        ]
        await session.execute(_insert_new(session), placeholders)
        rows = await session.execute(
            select(table.c.stream, table.c.start_unix_nano, table.c.value, table.c.seen_at)
            .where(table.c.project_id == project_id, table.c.stream.in_(chunk))
            .order_by(table.c.stream)
            .with_for_update()
        )
        for stream, start, value, seen_at in rows:
            state[stream] = (start, value, seen_at)
    return state


def _insert_new(session: AsyncSession) -> DialectInsert:
    return insert_ignoring_conflicts(
        session, OtlpCumulativePoint, index_elements=["project_id", "stream"]
    )


async def increases(
    session: AsyncSession, project_id: str, readings: Sequence[Reading]
) -> list[float]:
    """What each cumulative reading adds, in the order given; the streams' last
    values are updated in the caller's transaction."""
    streams = sorted({reading.stream for reading in readings})
    if not streams:
        return []
    state = await _locked_streams(session, project_id, streams)
    changed: dict[str, tuple[int, float, datetime]] = {}
    added = [0.0] * len(readings)
    order = sorted(range(len(readings)), key=lambda i: (readings[i].stream, readings[i].time))
    for index in order:
        reading = readings[index]
        start, value, seen_at = state[reading.stream]
        at = _datetime(reading.time)
        if start != _NEVER and reading.start == start and at <= seen_at:
            continue  # a point already counted (a re-sent export) or an older one
        reset = start == _NEVER or reading.start != start or reading.value < value
        added[index] = reading.value if reset else reading.value - value
        state[reading.stream] = changed[reading.stream] = (reading.start, reading.value, at)
    for stream, (start, value, seen_at) in sorted(changed.items()):
        await session.execute(
            update(OtlpCumulativePoint)
            .where(
                OtlpCumulativePoint.project_id == project_id,
                OtlpCumulativePoint.stream == stream,
            )
            .values(start_unix_nano=start, value=value, seen_at=seen_at)
        )
    return added


async def first_sightings(
    session: AsyncSession, project_id: str, keys: Iterable[str], now: datetime
) -> set[str]:
    """The keys never seen before in this project (each recorded as a stream seen
    once): a log record re-sent in a later export counts once."""
    wanted = sorted(set(keys))
    new: set[str] = set()
    table = OtlpCumulativePoint.__table__
    for offset in range(0, len(wanted), _SLICE):
        rows = [
            {
                "project_id": project_id,
                "stream": key,
                "start_unix_nano": 0,
                "value": 1.0,
                "seen_at": now,
            }
            for key in wanted[offset : offset + _SLICE]
        ]
        result = await session.execute(_insert_new(session).returning(table.c.stream), rows)
        new.update(result.scalars())
    return new


# --- points → facts -------------------------------------------------------------------


def _genai_who(point: MetricPoint) -> str:
    def get(name: str) -> Any:
        return claude_code.attribute(name, point.attributes, point.resource)

    return first_text(128, get("prodlens.developer_id"), get("user.id"), get("enduser.id")) or ""


def _genai_facts(point: MetricPoint, value: float, count: float) -> list[Fact]:
    get = point.attributes.get
    day = point.at.date()
    developer = _genai_who(point)
    labels = {
        "model": first_text(128, get("gen_ai.response.model"), get("gen_ai.request.model")),
        "operation": text(get("gen_ai.operation.name"), 64),
        "provider": first_text(64, get("gen_ai.provider.name"), get("gen_ai.system")),
    }
    if point.name == TOKEN_USAGE:
        kind = text(get("gen_ai.token.type"), 32) or "unknown"
        return [Fact(day, developer, GENAI_SOURCE, "tokens", value, {**labels, "type": kind})]
    facts = [
        Fact(day, developer, GENAI_SOURCE, "calls", count, labels),
        Fact(day, developer, GENAI_SOURCE, "duration_ms_sum", value * 1000, labels),
    ]
    error = text(get("error.type"), 128)
    if error is not None:
        facts.append(
            Fact(
                day,
                developer,
                GENAI_SOURCE,
                "errors",
                count,
                {"model": labels["model"], "error_type": error},
            )
        )
    return facts


def point_facts(point: MetricPoint, value: float, count: float) -> tuple[list[Fact], Who]:
    """The facts one point's increase adds, and whom it belongs to."""
    if point.name.startswith(claude_code.METRIC_PREFIX):
        person = claude_code.who(point.attributes, point.resource)
        facts = claude_code.metric_facts(
            point.name, point.at.date(), value, point.attributes, person.developer_id
        )
        return facts, person
    return _genai_facts(point, value, count), Who(_genai_who(point))


@dataclass
class StoredPoints:
    facts: int = 0  # rows touched
    people: list[Who] = field(default_factory=list)


def _readings(point: MetricPoint) -> list[Reading]:
    """A sum's one stream, a histogram's two (its sum and its count). The start time
    is kept in the row, not hashed into the stream: a new one is a reset."""
    identity = (point.name, sorted(point.resource.items()), sorted(point.attributes.items()))
    readings = [Reading(stream_key(*identity), point.start, point.time, point.value)]
    if point.count is not None:
        count_stream = stream_key(*identity, "count")
        readings.append(Reading(count_stream, point.start, point.time, point.count))
    return readings


async def store_points(
    session: AsyncSession, project_id: str, points: Sequence[MetricPoint], now: datetime
) -> StoredPoints:
    """Add the facts of checked points of known metrics."""
    cumulative = [point for point in points if point.cumulative]
    readings = [reading for point in cumulative for reading in _readings(point)]
    added = iter(await increases(session, project_id, readings))
    increments: list[tuple[MetricPoint, float, float]] = []
    for point in points:
        if point.cumulative:
            value = next(added)
            count = next(added) if point.count is not None else 0.0
        else:
            value, count = point.value, point.count or 0.0
        if value or count:
            increments.append((point, value, count))
    facts: list[Fact] = []
    stored = StoredPoints()
    for point, value, count in increments:
        found, person = point_facts(point, value, count)
        facts += found
        if found:
            stored.people.append(person)
    stored.facts = await add_facts(session, project_id, facts, now)
    return stored
