"""LiteLLM's `StandardLoggingPayload` (what its generic API logger posts) → a native event.

Field names follow `litellm/types/utils.py` (`StandardLoggingPayload`,
`StandardLoggingMetadata`, `StandardLoggingHiddenParams`). The payload carries
the conversation (`messages`, `response`); nothing of it is copied, only the
response's model name and finish reason are read.

What LiteLLM sends, and what it means, was read from LiteLLM's own source and
payloads of a real proxy (1.108.7); docs/ingest.md states the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from prodlens.analytics.identities import Sighting
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
# Names LiteLLM puts where a user or team would be when there is none: the proxy
# admin behind the master key (`LITELLM_PROXY_ADMIN_NAME`), the master key's alias
# (`LITELLM_PROXY_MASTER_KEY_ALIAS`) and the admin UI's team (`UI_SESSION_TOKEN_TEAM_ID`).
# Crediting them would lump every master-key caller into one "developer".
PLACEHOLDERS = frozenset({"default_user_id", "litellm_proxy_master_key", "litellm-dashboard"})
# LiteLLM's own id for a call without a caller-given trace or session (`uuid4()`):
# not a session, every call has a different one.
_GENERATED_TRACE_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
# Error classes LiteLLM's proxy and router raise themselves, before any provider call.
_PROXY_ERROR_CLASSES = frozenset(
    {
        "BudgetExceededError",
        "RouterRateLimitError",
        "RouterRateLimitErrorBasic",
        "MockTestingParamsDisabledError",
    }
)
# `error_information.normalized_error` codes that only LiteLLM's own checks produce.
_PROXY_NORMALIZED_ERRORS = frozenset(
    {"429_BUDGET_EXCEEDED", "429_NO_HEALTHY_DEPLOYMENTS", "403_MODEL_ACCESS_DENIED"}
)
# LiteLLM's own rate limits (its parallel-request and batch limiters), not a provider's.
_PROXY_RATE_LIMITS = frozenset({"litellm_rate_limit", "litellm_batch_rate_limit"})
V1_REASON = (
    "LiteLLM's v1 logging payload (`generic_api_use_v1`) is not supported: remove "
    "`generic_api_use_v1` from `litellm_settings` so the logger sends its StandardLoggingPayload"
)
# Harmless identifiers worth keeping for drill-down; everything else is dropped.
_KEPT_METADATA = (
    "user_api_key_user_id",
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


_TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


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


def _refused(error: Mapping[str, Any]) -> bool:
    """A failure LiteLLM itself answered (unknown model, wrong key, budget, its own rate
    limit): no provider was called. Provider errors name the provider they came from
    (`error_information.llm_provider`); LiteLLM's own checks leave it empty."""
    error_class = text(error.get("error_class"), 128)
    if error_class is None:
        return False  # no classified error: nothing says where it failed
    return (
        error_class.startswith("Proxy")  # ProxyException, ProxyModelNotFoundError
        or error_class in _PROXY_ERROR_CLASSES
        or text(error.get("normalized_error"), 64) in _PROXY_NORMALIZED_ERRORS
        or text(error.get("error_rate_limit_category"), 64) in _PROXY_RATE_LIMITS
        or text(error.get("error_budget_entity_type"), 64) is not None
        or text(error.get("llm_provider"), 64) is None
    )


def _status(payload: Mapping[str, Any]) -> dict[str, Any]:
    error = mapping(payload.get("error_information"))
    status = {"success": "ok", "failure": "error"}.get(str(payload.get("status")))
    if status == "error" and _refused(error):
        status = "refused"
    code = error.get("error_code")
    http_status = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    return {
        "status": status,
        "error_type": text(error.get("error_class"), 128) if status != "ok" else None,
        "http_status": http_status if http_status and 100 <= http_status <= 599 else None,
    }


def _cost(payload: Mapping[str, Any], tokens: Mapping[str, Any]) -> float | None:
    """LiteLLM's cost, or None when it could not price the call (the price table then
    estimates it). LiteLLM reports 0 for a model it has no price for, with or without
    debug info; a 0 with tokens is that, unless the answer came from LiteLLM's cache."""
    if payload.get("response_cost_failure_debug_info"):
        return None
    cost = fields.number(payload.get("response_cost"), "response_cost")
    used = sum(tokens[name] for name in _TOKEN_FIELDS) > 0
    if cost == 0 and used and payload.get("cache_hit") is not True:
        return None
    return cost


def _response_fields(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The response's model and first finish reason: read, never stored otherwise."""
    response = mapping(payload.get("response"))
    choices = response.get("choices")
    first = mapping(choices[0]) if isinstance(choices, list) and choices else {}
    return text(response.get("model"), 128), text(first.get("finish_reason"), 64)


def _without_provider(model: str | None, provider: str | None) -> str | None:
    """`anthropic/claude-sonnet-4-…` → `claude-sonnet-4-…`: the model's own name, as
    providers and OpenTelemetry report it (LiteLLM prefixes the provider it routes to)."""
    if model and provider and model.startswith(f"{provider}/") and len(model) > len(provider) + 1:
        return model[len(provider) + 1 :]
    return model


def _models(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Requested and answering model. Through a proxy's model group the router rewrites
    the response's model to the group's alias; the deployment's model is in `model`."""
    response_model, _ = _response_fields(payload)
    group = text(payload.get("model_group"), 128)
    provider = text(payload.get("custom_llm_provider"), 64)
    hidden = mapping(payload.get("hidden_params"))
    deployment = _without_provider(
        first_text(128, payload.get("model"), hidden.get("litellm_model_name")), provider
    )
    if response_model is None or response_model == group:
        response_model = deployment or response_model
    return {"request_model": group or deployment, "response_model": response_model}


def _first(sources: list[Mapping[str, Any]], key: str, read: Callable[[Any], Any]) -> Any:
    for source in sources:
        value = read(source.get(key))
        if value is not None:
            return value
    return None


def _person(value: Any) -> str | None:
    """An identifier that names someone: not empty, not one of LiteLLM's placeholders."""
    found = text(value, 128)
    return None if found is None or found in PLACEHOLDERS else found


def _developer(payload: Mapping[str, Any], own: list[Mapping[str, Any]]) -> str | None:
    """The caller's own `developer_id` first; then the end user (the request's `user`,
    where the proxy and the SDK put it); then the virtual key's user, team and alias."""
    metadata = mapping(payload.get("metadata"))
    parameters = mapping(payload.get("model_parameters"))
    for value in (
        *(source.get(key) for source in own for key in _DEVELOPER_KEYS),
        metadata.get("user_api_key_end_user_id"),
        payload.get("end_user"),
        parameters.get("user"),  # the SDK without a proxy: only here
        metadata.get("user_api_key_user_id"),
        metadata.get("user_api_key_team_id"),
        metadata.get("user_api_key_team_alias"),
        metadata.get("user_api_key_alias"),
    ):
        found = _person(value)
        if found is not None:
            return found
    return None


def _session(payload: Mapping[str, Any], own: list[Mapping[str, Any]]) -> str | None:
    """The caller's own `session_id` first; then LiteLLM's session id, then its trace id
    when the caller set it (`litellm_session_id`, `litellm_trace_id` or `metadata.session_id`
    in the SDK all land there); a trace id LiteLLM generated is one call, not a session."""
    explicit = first_text(128, *(source.get(key) for source in own for key in _SESSION_KEYS))
    if explicit is not None:
        return explicit
    trace = text(payload.get("trace_id"), 128)
    if trace is not None and _GENERATED_TRACE_ID.fullmatch(trace):
        trace = None
    return first_text(128, payload.get("session_id"), trace)


def _who(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Who and what: the client's own metadata first, then what LiteLLM knows."""
    metadata = mapping(payload.get("metadata"))
    requester = mapping(metadata.get("requester_metadata"))
    spend = mapping(metadata.get("spend_logs_metadata"))
    own = [requester, spend]
    return {
        "developer_id": _developer(payload, own),
        "session_id": _session(payload, own),
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


def sighting(payload: Any) -> Sighting | None:
    """The virtual key's user with the email LiteLLM sends for it: one person under two
    identifiers, for identity linking. Only the key's user: the email is the key owner's,
    not the end user's a call may be credited to."""
    metadata = mapping(payload.get("metadata")) if isinstance(payload, Mapping) else {}
    user_id = _person(metadata.get("user_api_key_user_id"))
    email = text(metadata.get("user_api_key_user_email"), 254)
    if user_id is None or email is None or user_id.lower() == email.lower():
        return None
    return Sighting(identity=user_id, kind="litellm", email=email)


def is_v1(payload: Mapping[str, Any]) -> bool:
    """LiteLLM's old generic-logger payload (`generic_api_use_v1`): camelCase
    `modelParameters`, a `cost` instead of `response_cost`, every value a string."""
    return "modelParameters" in payload or ("cost" in payload and "response_cost" not in payload)


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
    kept.update({key: _person(metadata.get(key)) for key in _KEPT_METADATA})
    # How LiteLLM classified a failure (`429_BUDGET_EXCEEDED`, …): a code, never the message.
    error = mapping(payload.get("error_information"))
    kept["litellm_error"] = text(error.get("normalized_error"), 64)
    return {key: value for key, value in kept.items() if value is not None}


def to_event(payload: Any) -> dict[str, Any] | Rejection:
    """One `StandardLoggingPayload` → a native-shaped event, or why it cannot be one."""
    if not isinstance(payload, Mapping):
        return Rejection("a LiteLLM log entry must be a JSON object")
    event_id = text(payload.get("id"), 128)
    if is_v1(payload):
        return Rejection(V1_REASON, event_id)
    try:
        _, finish_reason = _response_fields(payload)
        tokens = _tokens(payload)
        event: dict[str, Any] = {
            "event_id": event_id,
            **_times(payload),
            "provider": _provider(payload),
            "operation": _operation(payload.get("call_type")),
            **_models(payload),
            **tokens,
            "cost_usd": _cost(payload, tokens),
            **_status(payload),
            "finish_reason": finish_reason,
            **_who(payload),
            "attributes": _attributes(payload),
        }
    except FieldError as exc:
        return Rejection(str(exc), event_id)
    return {key: value for key, value in event.items() if value is not None}
