"""LiteLLM's `StandardLoggingPayload` (what its generic API logger posts) → a native event.

Field names follow `litellm/types/utils.py` (`StandardLoggingPayload`,
`StandardLoggingMetadata`, `StandardLoggingHiddenParams`). The payload carries
the conversation (`messages`, `response`); nothing of it is copied, only the
response's model name and finish reason are read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from prodlens.analytics.ingest import fields
from prodlens.analytics.ingest.events import Rejection
from prodlens.analytics.ingest.fields import FieldError, first_text, mapping, text

# LiteLLM call types → the GenAI semantic-convention operation names, so events
# from LiteLLM and from OpenTelemetry group together.
_OPERATIONS = {
    "completion": "chat",
    "acompletion": "chat",
    "anthropic_messages": "chat",
    "responses": "chat",
    "aresponses": "chat",
    "text_completion": "text_completion",
    "atext_completion": "text_completion",
    "embedding": "embeddings",
    "aembedding": "embeddings",
}
# Keys a client may set in its request `metadata` (LiteLLM forwards it as
# `requester_metadata`) or in `spend_logs_metadata`, read by name.
_DEVELOPER_KEYS = ("developer_id", "developer")
_SESSION_KEYS = ("session_id", "session")
# Harmless identifiers worth keeping for drill-down; everything else is dropped.
_KEPT_METADATA = (
    "user_api_key_alias",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_org_id",
)


def looks_like_litellm(item: Any) -> bool:
    """A `StandardLoggingPayload` (camelCase times, a call type) rather than a native event."""
    return isinstance(item, Mapping) and ("startTime" in item or "call_type" in item)


def _operation(call_type: Any) -> str | None:
    name = text(call_type, 64)
    if name is None:
        return None
    name = name.removeprefix("litellm.")
    return _OPERATIONS.get(name, name)


def _provider(payload: Mapping[str, Any]) -> str | None:
    error = mapping(payload.get("error_information"))
    host = None
    api_base = text(payload.get("api_base"), 500)
    if api_base:
        try:
            host = urlsplit(api_base if "//" in api_base else f"//{api_base}").hostname
        except ValueError:  # not a URL after all: the provider stays unknown
            host = None
    return first_text(64, payload.get("custom_llm_provider"), error.get("llm_provider"), host)


def _usage(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The provider usage object, where this LiteLLM version puts it."""
    for candidate in (
        payload.get("usage"),
        mapping(payload.get("hidden_params")).get("usage_object"),
        mapping(payload.get("metadata")).get("usage_object"),
    ):
        if isinstance(candidate, Mapping):
            return candidate
    return {}


def _tokens(payload: Mapping[str, Any]) -> dict[str, Any]:
    usage = _usage(payload)
    details = mapping(usage.get("prompt_tokens_details"))
    prompt = fields.count(payload.get("prompt_tokens"), "prompt_tokens")
    if prompt is None:
        prompt = fields.count(usage.get("prompt_tokens"), "usage.prompt_tokens") or 0
    completion = fields.count(payload.get("completion_tokens"), "completion_tokens")
    if completion is None:
        completion = fields.count(usage.get("completion_tokens"), "usage.completion_tokens") or 0
    cache_read = fields.first_count(usage, "cache_read_input_tokens")
    if cache_read is None:
        cache_read = fields.count(details.get("cached_tokens"), "cached_tokens")
    cache_creation = fields.first_count(usage, "cache_creation_input_tokens")
    if cache_creation is None:
        cache_creation = fields.count(details.get("cache_creation_tokens"), "cache_creation_tokens")
    if cache_read is None and payload.get("cache_hit") is True:
        # Served from LiteLLM's own cache: the whole prompt was a cache read.
        cache_read = prompt
    cache_read, cache_creation = cache_read or 0, cache_creation or 0
    return {
        # LiteLLM's prompt_tokens include cached ones (OpenAI's convention, which it
        # applies to Anthropic too); ProdLens counts uncached input apart.
        "input_tokens": max(prompt - cache_read - cache_creation, 0),
        "output_tokens": completion,
        "cache_read_tokens": cache_read,
        "cache_creation_tokens": cache_creation,
        "total_tokens": fields.count(payload.get("total_tokens"), "total_tokens"),
    }


def _numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _times(payload: Mapping[str, Any]) -> dict[str, Any]:
    start = payload.get("startTime")
    if start is None:
        raise FieldError("startTime: required")
    if isinstance(start, str) and not _numeric(start):
        # ISO times (older payloads): the native validation parses them.
        return {"started_at": start, "ended_at": payload.get("endTime")}
    started = fields.number(start, "startTime")
    ended = fields.number(payload.get("endTime"), "endTime")
    first_token = fields.number(payload.get("completionStartTime"), "completionStartTime")
    assert started is not None
    result: dict[str, Any] = {"started_at": fields.from_epoch(started, "startTime")}
    if ended is not None:
        result["ended_at"] = fields.from_epoch(ended, "endTime")
    stream = payload.get("stream")
    # Without streaming LiteLLM sets completionStartTime to endTime: no first-token time.
    streamed = stream is True or (stream is None and ended is not None and first_token != ended)
    if first_token is not None and first_token >= started and streamed:
        result["ttft_ms"] = (first_token - started) * 1000
    return result


def _status(payload: Mapping[str, Any]) -> dict[str, Any]:
    error = mapping(payload.get("error_information"))
    status = {"success": "ok", "failure": "error"}.get(str(payload.get("status")))
    code = error.get("error_code")
    http_status = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    return {
        "status": status,
        "error_type": text(error.get("error_class"), 128) if status != "ok" else None,
        "http_status": http_status if http_status and 100 <= http_status <= 599 else None,
    }


def _cost(payload: Mapping[str, Any]) -> float | None:
    # A zero cost with failure debug info means LiteLLM could not price the call:
    # leave it unreported so the price table can estimate it.
    if payload.get("response_cost_failure_debug_info"):
        return None
    return fields.number(payload.get("response_cost"), "response_cost")


def _response_fields(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The response's model and first finish reason: read, never stored otherwise."""
    response = mapping(payload.get("response"))
    choices = response.get("choices")
    first = mapping(choices[0]) if isinstance(choices, list) and choices else {}
    return text(response.get("model"), 128), text(first.get("finish_reason"), 64)


def _first(sources: list[Mapping[str, Any]], key: str, read: Callable[[Any], Any]) -> Any:
    for source in sources:
        value = read(source.get(key))
        if value is not None:
            return value
    return None


def _who(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Who and what: the client's own metadata first, then LiteLLM's key owner."""
    metadata = mapping(payload.get("metadata"))
    requester = mapping(metadata.get("requester_metadata"))
    spend = mapping(metadata.get("spend_logs_metadata"))
    own = [requester, spend]
    return {
        "developer_id": first_text(
            128,
            *(source.get(key) for source in own for key in _DEVELOPER_KEYS),
            metadata.get("user_api_key_user_id"),
            metadata.get("user_api_key_end_user_id"),
            payload.get("end_user"),
        ),
        "session_id": first_text(128, *(s.get(key) for s in own for key in _SESSION_KEYS)),
        "accepted": _first(own, "accepted", fields.flag),
        "repo": _first(own, "repo", lambda value: text(value, 200)),
        "lines_suggested": _first(
            own, "lines_suggested", lambda value: fields.count(value, "lines_suggested")
        ),
        "lines_accepted": _first(
            own, "lines_accepted", lambda value: fields.count(value, "lines_accepted")
        ),
        "tags": fields.tags(payload.get("request_tags"), requester.get("tags"), spend.get("tags")),
    }


def _attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
    metadata = mapping(payload.get("metadata"))
    kept: dict[str, Any] = {
        "litellm_trace_id": text(payload.get("trace_id"), 128),
        "litellm_model_id": text(payload.get("model_id"), 128),
        "model_group": text(payload.get("model_group"), 128),
        "call_type": text(payload.get("call_type"), 64),
        "cache_hit": fields.flag(payload.get("cache_hit")),
        "saved_cache_cost": fields.number(payload.get("saved_cache_cost"), "saved_cache_cost"),
    }
    kept.update({key: text(metadata.get(key), 128) for key in _KEPT_METADATA})
    return {key: value for key, value in kept.items() if value is not None}


def to_event(payload: Any) -> dict[str, Any] | Rejection:
    """One `StandardLoggingPayload` → a native-shaped event, or why it cannot be one."""
    if not isinstance(payload, Mapping):
        return Rejection("a LiteLLM log entry must be a JSON object")
    event_id = text(payload.get("id"), 128)
    try:
        response_model, finish_reason = _response_fields(payload)
        hidden = mapping(payload.get("hidden_params"))
        model = text(payload.get("model"), 128)
        event: dict[str, Any] = {
            "event_id": event_id,
            **_times(payload),
            "provider": _provider(payload),
            "operation": _operation(payload.get("call_type")),
            "request_model": first_text(128, payload.get("model_group"), model),
            "response_model": response_model
            or first_text(128, hidden.get("litellm_model_name"), model),
            **_tokens(payload),
            "cost_usd": _cost(payload),
            **_status(payload),
            "finish_reason": finish_reason,
            **_who(payload),
            "attributes": _attributes(payload),
        }
    except FieldError as exc:
        return Rejection(str(exc), event_id)
    return {key: value for key, value in event.items() if value is not None}
