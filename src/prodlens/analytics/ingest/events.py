"""The normalized event every ingest format is turned into, and its validation.

Each adapter (native JSON, LiteLLM, OpenTelemetry) maps its payload to the
fields of `EventIn`; validation, cost estimation and privacy filtering happen
here once for all of them. An item that fails becomes a `Rejection` with a
reason, never an error for the whole batch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prodlens.analytics.pricing import Price, estimate_cost, find_price
from prodlens.kit.json_limits import UNSTORABLE, storable, unstorable_text

MAX_BATCH = 1000
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_ATTRIBUTES_BYTES = 16 * 1024
_MAX_TOKENS = 10**9
# Keys that carry conversation text: never stored, at any depth of `attributes`.
_CONTENT_KEYS = frozenset(
    {
        "prompt",
        "prompts",
        "completion",
        "completions",
        "messages",
        "message",
        "content",
        "input",
        "output",
        "response",
        "response_text",
        "system_prompt",
        "text",
    }
)


class EventIn(BaseModel):
    """One model call, in ProdLens's native shape (also what adapters produce)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str | None = Field(None, min_length=1, max_length=128)
    session_id: str | None = Field(None, max_length=128)
    developer_id: str | None = Field(None, max_length=128)
    started_at: datetime
    ended_at: datetime | None = None
    latency_ms: float | None = Field(None, ge=0, le=86_400_000)
    ttft_ms: float | None = Field(None, ge=0, le=86_400_000)
    provider: str | None = Field(None, max_length=64)
    operation: str | None = Field(None, max_length=64)
    request_model: str | None = Field(None, max_length=128)
    response_model: str | None = Field(None, max_length=128)
    input_tokens: int = Field(0, ge=0, le=_MAX_TOKENS)
    output_tokens: int = Field(0, ge=0, le=_MAX_TOKENS)
    cache_read_tokens: int = Field(0, ge=0, le=_MAX_TOKENS)
    cache_creation_tokens: int = Field(0, ge=0, le=_MAX_TOKENS)
    total_tokens: int | None = Field(None, ge=0, le=4 * _MAX_TOKENS)
    cost_usd: float | None = Field(None, ge=0, le=1_000_000)
    # refused: turned away before any model call (a proxy's unknown model, wrong key,
    # budget): counted apart, never in the error rate.
    status: Literal["ok", "error", "refused"] | None = None
    http_status: int | None = Field(None, ge=100, le=599)
    error_type: str | None = Field(None, max_length=128)
    finish_reason: str | None = Field(None, max_length=64)
    accepted: bool | None = None
    lines_suggested: int | None = Field(None, ge=0, le=1_000_000)
    lines_accepted: int | None = Field(None, ge=0, le=1_000_000)
    repo: str | None = Field(None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=20)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("started_at", "ended_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("tags")
    @classmethod
    def _short_tags(cls, tags: list[str]) -> list[str]:
        if any(len(tag) > 64 for tag in tags):
            raise ValueError("tags are at most 64 characters")
        return tags

    @model_validator(mode="after")
    def _consistent(self) -> EventIn:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if (
            self.lines_accepted is not None
            and self.lines_suggested is not None
            and self.lines_accepted > self.lines_suggested
        ):
            raise ValueError("lines_accepted exceeds lines_suggested")
        return self


@dataclass(frozen=True)
class Rejection:
    reason: str
    event_id: str | None = None


def stable_event_id(raw: Any) -> str:
    """An id for payloads that carry none: the same payload always gets the same id."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return "h-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _without_content(value: Any) -> Any:
    """A copy of `value` without the content keys, at any depth. A loop, not recursion:
    values may nest as deep as `http.max_json_depth` allows (up to 512)."""
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (value, its copy's parent, slot)
    while pending:
        item, parent, slot = pending.pop()
        if isinstance(item, dict):
            kept: dict[Any, Any] = {}
            parent[slot] = kept
            for key, inner in item.items():
                if str(key).lower() not in _CONTENT_KEYS:
                    kept[key] = None  # holds the key's place, so the order is kept
                    pending.append((inner, kept, key))
        elif isinstance(item, list):
            copied: list[Any] = [None] * len(item)
            parent[slot] = copied
            pending.extend((inner, copied, index) for index, inner in enumerate(item))
        else:
            parent[slot] = item
    return root[0]


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "event"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        parts.append(f"{where}: {message.removeprefix('Value error, ')}")
    return "; ".join(parts)


def normalize(
    raw: Any,
    *,
    source: str,
    now: datetime,
    prices: dict[str, Price],
    fallback_id: Any = None,
) -> dict[str, Any] | Rejection:
    """Validate one native-shaped item and turn it into an `events` row (a dict)."""
    if not isinstance(raw, dict):
        return Rejection("an event must be a JSON object")
    event_id = raw.get("event_id")
    # Answered in the results: an id that cannot be stored cannot be sent either.
    known_id = event_id if isinstance(event_id, str) and storable(event_id) else None
    try:
        event = EventIn.model_validate(raw)
    except ValidationError as exc:
        return Rejection(_reason(exc), known_id)
    if event.started_at > now + FUTURE_TOLERANCE:
        return Rejection("started_at is in the future", event.event_id)
    attributes = _without_content(event.attributes)
    if len(json.dumps(attributes, default=str)) > MAX_ATTRIBUTES_BYTES:
        return Rejection(f"attributes exceed {MAX_ATTRIBUTES_BYTES} bytes", event.event_id)

    latency = event.latency_ms
    if latency is None and event.ended_at is not None:
        latency = (event.ended_at - event.started_at).total_seconds() * 1000
    total = event.total_tokens
    if total is None:
        total = (
            event.input_tokens
            + event.output_tokens
            + event.cache_read_tokens
            + event.cache_creation_tokens
        )
    cost, cost_source = event.cost_usd, "reported" if event.cost_usd is not None else None
    if cost is None:
        # The response model first (the model that answered); a proxy's alias there
        # ("claude-sonnet", "team-default") is unknown, so then the request model.
        price = find_price(event.response_model, prices) or find_price(event.request_model, prices)
        if price is not None:
            cost = estimate_cost(
                price,
                input_tokens=event.input_tokens,
                output_tokens=event.output_tokens,
                cache_read_tokens=event.cache_read_tokens,
                cache_creation_tokens=event.cache_creation_tokens,
            )
            cost_source = "estimated"
    status = event.status or (
        "error"
        if event.error_type or (event.http_status is not None and event.http_status >= 400)
        else "ok"
    )
    row = {
        "event_id": event.event_id
        or stable_event_id(fallback_id if fallback_id is not None else raw),
        "session_id": event.session_id,
        "developer_id": event.developer_id,
        "started_at": event.started_at,
        "ended_at": event.ended_at,
        "latency_ms": latency,
        "ttft_ms": event.ttft_ms,
        "provider": event.provider,
        "operation": event.operation,
        "request_model": event.request_model,
        "response_model": event.response_model or event.request_model,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cache_read_tokens": event.cache_read_tokens,
        "cache_creation_tokens": event.cache_creation_tokens,
        "total_tokens": total,
        "cost_usd": cost,
        "cost_source": cost_source,
        "status": status,
        "http_status": event.http_status,
        "error_type": event.error_type,
        "finish_reason": event.finish_reason,
        "accepted": event.accepted,
        "lines_suggested": event.lines_suggested,
        "lines_accepted": event.lines_accepted,
        "repo": event.repo,
        "tags": event.tags,
        "attributes": attributes,
        "source": source,
        "ingested_at": now,
    }
    # What is stored, checked: NUL or half a surrogate pair would fail the whole batch's
    # insert (PostgreSQL refuses them), so the event is turned away alone.
    where = unstorable_text(row)
    if where is not None:
        return Rejection(f"{where} {UNSTORABLE}", known_id)
    return row
