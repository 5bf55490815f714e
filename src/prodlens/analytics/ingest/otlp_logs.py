"""OTLP log records → events and daily facts (Claude Code's log events).

Claude Code sends each event as a log record whose body is the event's full name
(`claude_code.api_request`) and whose `event.name` attribute is the short one
(`api_request`); newer SDKs also fill the record's own `event_name`. Model calls
(`api_request`, `api_error`) become events through the normal ingest pipeline;
`tool_decision`, `tool_result` and `user_prompt` become facts; other records are
ignored. A record's body is never kept: the decoder reads it only when it is a
short `claude_code.*` name.

Ids are stable, so a re-sent export stores nothing twice: `session.id` plus the
session's `event.sequence` when Claude Code sends them, else a hash of the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prodlens.analytics.assistant_facts import Fact
from prodlens.analytics.ingest import claude_code
from prodlens.analytics.ingest.claude_code import Who
from prodlens.analytics.ingest.events import FUTURE_TOLERANCE, Rejection, stable_event_id
from prodlens.analytics.ingest.fields import FieldError, text

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BODY_NAME_LIMIT = 100  # a body longer than this is content, not an event name


@dataclass(frozen=True)
class LogRecord:
    """The parts of an OTLP log record that matter here, decoded from JSON or protobuf."""

    event_name: str  # the record's own event_name, else its body when that is a name
    time: int  # time_unix_nano, else observed_time_unix_nano; 0 when neither is set
    attributes: Mapping[str, Any] = field(default_factory=dict)
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope: str = ""


def claude_code_name(record: LogRecord) -> str | None:
    """The short name of a Claude Code event (`api_request`), or None for other records."""
    for candidate in (record.event_name, record.attributes.get("event.name")):
        if isinstance(candidate, str) and candidate.startswith(claude_code.METRIC_PREFIX):
            return candidate.removeprefix(claude_code.METRIC_PREFIX)
    short = record.attributes.get("event.name")
    is_claude_code = record.scope.startswith("com.anthropic.claude_code") or (
        record.resource.get("service.name") == "claude-code"
    )
    return short if isinstance(short, str) and short and is_claude_code else None


def _time(record: LogRecord) -> datetime:
    if record.time > 0:
        return _EPOCH + timedelta(microseconds=record.time // 1000)
    stamp = record.attributes.get("event.timestamp")  # ISO 8601, as Claude Code sends it
    if isinstance(stamp, str):
        try:
            parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError("event.timestamp: not an ISO 8601 time") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise FieldError("timeUnixNano: required")


def record_id(name: str, record: LogRecord) -> str:
    """Claude Code numbers events within a session: that pair names a record for good."""
    session = text(claude_code.attribute("session.id", record.attributes, record.resource), 80)
    sequence = record.attributes.get("event.sequence")
    if session is not None and isinstance(sequence, int | str) and str(sequence).isdigit():
        return f"cc-{session}-{int(sequence)}"
    return stable_event_id(
        [name, record.time, sorted(record.attributes.items()), sorted(record.resource.items())]
    )


@dataclass
class MappedLogs:
    """Events (or per-record rejections) for the ingest pipeline, facts keyed by the
    record they came from, rejections of fact records, and the people seen."""

    events: list[dict[str, Any] | Rejection] = field(default_factory=list)
    facts: list[tuple[str, Fact]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    people: list[Who] = field(default_factory=list)


def map_records(records: Sequence[LogRecord], now: datetime) -> MappedLogs:
    mapped = MappedLogs()
    for record in records:
        name = claude_code_name(record)
        if name is None or (
            name not in claude_code.MODEL_CALLS and name not in claude_code.FACT_EVENTS
        ):
            continue
        key = record_id(name, record)
        person = claude_code.who(record.attributes, record.resource)
        try:
            at = _time(record)
            if name in claude_code.MODEL_CALLS:
                mapped.events.append(
                    claude_code.to_event(
                        name, key, at, record.attributes, record.resource, person.developer_id
                    )
                )
            else:
                if at > now + FUTURE_TOLERANCE:
                    raise FieldError("the record's time is in the future")
                facts = claude_code.event_facts(
                    name, at.date(), record.attributes, person.developer_id
                )
                mapped.facts += [(key, fact) for fact in facts]
        except (FieldError, OverflowError) as exc:
            reason = f"{name} {key}: {exc}"
            if name in claude_code.MODEL_CALLS:
                mapped.events.append(Rejection(str(exc), key))
            else:
                mapped.rejected.append(reason)
            continue
        mapped.people.append(person)
    return mapped
