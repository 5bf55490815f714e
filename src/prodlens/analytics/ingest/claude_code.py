"""Claude Code's OpenTelemetry names → ProdLens's facts and events.

Claude Code exports metrics (`claude_code.*` counters, delta temporality unless
`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative`) and log events
(`claude_code.api_request`, `.tool_decision`, …) with its standard attributes
(`session.id`, `user.email`, `user.account_uuid`, `user.id`, `organization.id`,
`terminal.type`, `app.version`) on every point and record. Metrics and the
non-model events become daily facts (source "claude_code"); `api_request` and
`api_error` are model calls and become events.

Only the attributes named here are read: a `user_prompt` event's `prompt`, an
`assistant_response`'s `response` and the raw API body events are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from prodlens.analytics.assistant_facts import Fact
from prodlens.analytics.ingest import fields
from prodlens.analytics.ingest.fields import first_text, text

SOURCE = "claude_code"
METRIC_PREFIX = "claude_code."
# Claude Code spells token types in camelCase; facts use snake_case.
_TOKEN_TYPES = {
    "input": "input",
    "output": "output",
    "cacheRead": "cache_read",
    "cache_read": "cache_read",
    "cacheCreation": "cache_creation",
    "cache_creation": "cache_creation",
}
# Identifiers copied into an event's attributes (never content).
EVENT_ATTRIBUTES = (
    "organization.id",
    "terminal.type",
    "app.version",
    "app.entrypoint",
    "user.account_uuid",
    "prompt.id",
    "request_id",
    "query_source",
    "speed",
    "effort",
    "agent.name",
)
_LABEL = 128
_API_ERROR_TYPE = re.compile(r"\b([a-z]+(?:_[a-z]+)*_error)\b")


@dataclass(frozen=True)
class Who:
    """The developer a point or record belongs to, and the ids to link to the email."""

    developer_id: str  # "" when unknown
    email: str | None = None
    other_ids: tuple[str, ...] = ()


def attribute(name: str, attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> Any:
    """A point's or record's own attribute first, then the resource's."""
    value = attributes.get(name)
    return value if value is not None else resource.get(name)


def who(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> Who:
    """`user.email` when there is one (OAuth sign-in), else the account UUID, else an
    `enduser.id` an administrator set in `OTEL_RESOURCE_ATTRIBUTES`, else the
    installation's anonymous `user.id`; `prodlens.developer_id` overrides them all."""

    def get(name: str) -> str | None:
        return text(attribute(name, attributes, resource), _LABEL)

    email = get("user.email")
    account, enduser, installation = get("user.account_uuid"), get("enduser.id"), get("user.id")
    developer = first_text(
        _LABEL, get("prodlens.developer_id"), email, account, enduser, installation
    )
    others = tuple(dict.fromkeys(i for i in (account, enduser, installation) if i and i != email))
    return Who(developer or "", email, others if email else ())


def _label(value: Any) -> str | None:
    return text(value, _LABEL) if not isinstance(value, bool) else str(value).lower()


def metric_facts(
    name: str,
    day: date,
    value: float,
    attributes: Mapping[str, Any],
    developer: str,
) -> list[Fact]:
    """The facts one increase of a Claude Code metric adds (none for names not mapped)."""

    def fact(metric: str, **dimensions: Any) -> Fact:
        kept = {key: _label(item) for key, item in dimensions.items()}
        return Fact(day, developer, SOURCE, metric, value, kept)

    get = attributes.get
    short = name.removeprefix(METRIC_PREFIX)
    if short == "session.count":
        return [fact("sessions")]
    if short == "token.usage":
        kind = _TOKEN_TYPES.get(str(get("type")), text(get("type"), 32) or "unknown")
        return [fact("tokens", type=kind, model=get("model"))]
    if short == "cost.usage":
        return [fact("cost_usd", model=get("model"))]
    if short == "lines_of_code.count":
        lines = {"added": "lines_added", "removed": "lines_removed"}.get(str(get("type")))
        return [fact(lines)] if lines else []
    if short == "commit.count":
        return [fact("commits")]
    if short == "pull_request.count":
        return [fact("pull_requests")]
    if short == "code_edit_tool.decision":
        tool = get("tool_name") if get("tool_name") is not None else get("tool")
        return [
            fact("edit_decisions", decision=get("decision"), tool=tool, language=get("language"))
        ]
    if short == "active_time.total":
        return [fact("active_seconds", type=get("type"))]
    return []


# --- log events ---------------------------------------------------------------------

MODEL_CALLS = frozenset({"api_request", "api_error"})
FACT_EVENTS = frozenset({"tool_decision", "tool_result", "user_prompt"})


def event_facts(name: str, day: date, attributes: Mapping[str, Any], developer: str) -> list[Fact]:
    """The facts of a non-model event: decisions, tool results, prompts (length only)."""
    get = attributes.get

    def fact(metric: str, value: float = 1.0, **dimensions: Any) -> Fact:
        kept = {key: _label(item) for key, item in dimensions.items()}
        return Fact(day, developer, SOURCE, metric, value, kept)

    if name == "tool_decision":
        return [
            fact(
                "tool_decisions",
                decision=get("decision"),
                tool=get("tool_name"),
                source=get("source"),
            )
        ]
    if name == "tool_result":
        return [fact("tool_results", tool=get("tool_name"), success=get("success"))]
    if name == "user_prompt":
        try:  # never `prompt`: the text itself
            chars = fields.number(get("prompt_length"), "prompt_length") or 0.0
        except fields.FieldError:
            chars = 0.0
        return [fact("prompts"), fact("prompt_chars", max(chars, 0.0))]
    return []


def to_event(
    name: str,
    event_id: str,
    at: datetime,
    attributes: Mapping[str, Any],
    resource: Mapping[str, Any],
    developer: str,
) -> dict[str, Any]:
    """A native-shaped event for an `api_request` or `api_error` record; a bad number
    raises `FieldError` (the record is rejected with that reason)."""
    get = attributes.get
    model = text(get("model"), 128)
    status_code = fields.count(get("status_code"), "status_code")
    kept = {
        key: value
        for key in EVENT_ATTRIBUTES
        if (value := text(attribute(key, attributes, resource), 200)) is not None
    }
    event: dict[str, Any] = {
        "event_id": event_id,
        "session_id": text(get("session.id"), 128) or text(resource.get("session.id"), 128),
        "developer_id": developer or None,
        "started_at": at,
        "latency_ms": fields.number(get("duration_ms"), "duration_ms"),
        "provider": "anthropic",
        "operation": "chat",
        "request_model": model,
        "response_model": model,
        "attributes": kept | {"claude_code.event": name},
    }
    if name == "api_request":
        event |= {
            # Anthropic's usage block counts cached tokens apart from input_tokens, as
            # ProdLens does.
            "input_tokens": fields.count(get("input_tokens"), "input_tokens") or 0,
            "output_tokens": fields.count(get("output_tokens"), "output_tokens") or 0,
            "cache_read_tokens": fields.count(get("cache_read_tokens"), "cache_read_tokens") or 0,
            "cache_creation_tokens": fields.count(
                get("cache_creation_tokens"), "cache_creation_tokens"
            )
            or 0,
            "cost_usd": fields.number(get("cost_usd"), "cost_usd"),
            "status": "ok",
        }
    else:
        event |= {
            "status": "error",
            "error_type": error_type(get("error")),
            "http_status": status_code if status_code and 100 <= status_code <= 599 else None,
        }
    return {key: value for key, value in event.items() if value is not None}


def error_type(message: Any) -> str:
    """The API's error type (`overloaded_error`, `rate_limit_error`, …) when the message
    names one, else the message itself, cut short (an API error, never prompt text)."""
    if not isinstance(message, str) or not message.strip():
        return "api_error"
    found = _API_ERROR_TYPE.search(message)
    return found.group(1) if found else message.strip()[:_LABEL]
