"""The OpenAPI document: metadata, stable operation ids, problem responses everywhere."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import Field

from prodlens.analytics.ingest.events import MAX_BATCH, EventIn
from prodlens.kit.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, Problem
from prodlens.kit.schemas import Strict

TAGS = [
    {"name": "meta", "description": "API information and public configuration."},
    {"name": "health", "description": "Liveness, readiness and dependency status."},
    {
        "name": "auth",
        "description": "Registration, login, token refresh, sessions and the caller's account.",
    },
    {"name": "users", "description": "Account administration (admins only)."},
    {"name": "audit", "description": "The security audit log (admins only)."},
    {"name": "projects", "description": "Projects and their members (owner, maintainer, viewer)."},
    {"name": "work items", "description": "A project's work items, with cycle time."},
    {"name": "api keys", "description": "Project keys for machines (`ingest`, `read` scopes)."},
    {"name": "ingest", "description": "Model-call events in: native JSON, LiteLLM, OpenTelemetry."},
    {
        "name": "metrics",
        "description": "KPIs with targets and status, raw sums, time series, KPI targets.",
    },
    {
        "name": "integrations",
        "description": "Delivery data from GitHub: the signed webhook and its secret.",
    },
    {"name": "sessions", "description": "LLM sessions: filtered lists and one session's events."},
    {
        "name": "developers",
        "description": "Developers' usage, cost, acceptance, models, activity heatmap, trend.",
    },
    {
        "name": "insights",
        "description": "AI activity vs delivery (lagged correlations), anomalies, findings.",
    },
    {"name": "exports", "description": "Events and daily series as CSV or Parquet files."},
    {"name": "usage", "description": "Subscription plans, limits and the caller's usage."},
    {"name": "admin", "description": "Operating switches such as maintenance mode (admins)."},
    {"name": "observability", "description": "Prometheus metrics."},
]
CONTACT = {"name": "ProdLens maintainers"}
LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}
DESCRIPTION = (
    "ProdLens measures what AI coding assistants do for engineering teams: it ingests "
    "LLM usage events and delivery data and serves KPIs, time series and insights.\n\n"
    "Errors are RFC 9457 `application/problem+json` documents with a stable `code`."
)

# What an operation can answer whatever its route declares (status → problem codes),
# because something before or around the route answers it. The lead's hook for 503:
# add `service.unavailable` (the database down) to the list it belongs in.
# The server itself: a request it cannot parse (400), a bug (500).
EVERY_OPERATION: dict[str, tuple[str, ...]] = {
    "400": ("request.invalid",),
    "500": ("internal.error",),
}
# Middleware on every API route: rate limits, maintenance, NUL in the path or query
# (kit/input_limits.py); and the database unavailable (kit/availability.py).
EVERY_API_OPERATION: dict[str, tuple[str, ...]] = {
    "422": ("validation.failed",),
    "429": ("rate_limit.exceeded",),
    "503": ("service.maintenance", "service.unavailable"),
}
# Reading and parsing a body: malformed or too deep (400), too slow (408), too large
# (413), text that cannot be stored (422).
EVERY_BODY_OPERATION: dict[str, tuple[str, ...]] = {
    "400": ("request.malformed_json", "request.too_deep", "request.invalid"),
    "408": ("http.request_timeout",),
    "413": ("http.payload_too_large",),
    "422": ("validation.failed",),
}
_PROBLEM_PREFIX = "Problem: "
_CODE_NOTES = {"validation.failed": " (with `errors`)"}


class EventBatch(Strict):
    """Events in an envelope: `{"events": [...]}`, nothing else beside them."""

    events: list[EventIn] = Field(max_length=MAX_BATCH)


def operation_id(route: APIRoute) -> str:
    """The route function's name: short, stable, and unique (a test checks)."""
    return route.name


def _problem_everywhere(schema: dict[str, Any]) -> None:
    """Every operation declares the problems it can answer beyond its route's own:
    `EVERY_OPERATION`, `EVERY_API_OPERATION`, `EVERY_BODY_OPERATION`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    # Models referenced by hand-written request bodies and responses.
    for model in (Problem, EventIn, EventBatch):
        name = model.__name__
        components[name] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for inner, definition in components[name].pop("$defs", {}).items():
            components[inner] = definition
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:  # FastAPI's own, or the route's: problems either way
                _declare(responses, "422", ("validation.failed",))
            answered = dict(EVERY_OPERATION)
            if path.startswith("/api/"):
                answered |= EVERY_API_OPERATION
            for status, codes in answered.items():
                _declare(responses, status, codes)
            if "requestBody" in operation:
                for status, codes in EVERY_BODY_OPERATION.items():
                    _declare(responses, status, codes)


def _declare(responses: dict[str, Any], status: str, codes: tuple[str, ...]) -> None:
    """`status` answers a problem with these codes too: declared, or added to the codes
    the route declared. FastAPI's own entries (its 422 "Validation Error") become
    problem documents."""
    entry = responses.get(status)
    described = entry.get("description", "") if entry else ""
    if described in ("", "Validation Error"):
        described = _PROBLEM_PREFIX
    elif _PROBLEM_PREFIX not in described:  # the route's own words, then the codes
        described += " " + _PROBLEM_PREFIX
    missing = [
        f"`{code}`{_CODE_NOTES.get(code, '')}" for code in codes if f"`{code}`" not in described
    ]
    if missing:
        joiner = "" if described.endswith(_PROBLEM_PREFIX) else ", "
        described += joiner + ", ".join(missing)
    kept = entry or {}
    content = kept.get("content", {})
    if PROBLEM_MEDIA_TYPE not in content:
        content = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}}
    responses[status] = {**kept, "description": described, "content": content}


def _refs(node: Any) -> Iterator[str]:
    """The component names a piece of the document refers to, directly."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(roots: Any, components: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    pending = list(_refs(roots))
    while pending:
        name = pending.pop()
        if name not in seen and name in components:
            seen.add(name)
            pending.extend(_refs(components[name]))
    return seen


def _request_defaults_in_words(schema: dict[str, Any]) -> None:
    """Defaults of request-only schemas go into the description.

    openapi-typescript reads a `default` in a component as "always present" and makes
    the property required, which is true of answers but not of requests: with it, a
    client would have to send every optional field of `EventIn`. The server fills them
    in, and the description still says with what."""
    components = schema.get("components", {}).get("schemas", {})
    operations = [
        operation
        for item in schema.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict)
    ]
    sent = _reachable([op.get("requestBody") for op in operations], components)
    answered = _reachable(
        [[op.get("responses"), op.get("parameters")] for op in operations], components
    )
    for name in sent - answered:
        for prop in components[name].get("properties", {}).values():
            if "default" not in prop:
                continue
            default = prop.pop("default")
            if default is not None and default != [] and default != {}:
                words = f"Default: `{json.dumps(default)}`."
                prop["description"] = (
                    f"{prop['description']} {words}" if "description" in prop else words
                )


def _named_request_bodies(schema: dict[str, Any]) -> None:
    """Hand-written JSON bodies built from a model (`LoginRequest`) become components of
    that name, so generated clients call the type what the server calls it."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {})
            inline = body.get("schema", {})
            title = inline.get("title")
            if inline.get("type") != "object" or not isinstance(title, str):
                continue
            if components.setdefault(title, inline) != inline:
                continue  # another schema has that name: stays inline
            body["schema"] = {"$ref": f"#/components/schemas/{title}"}


def _one_media_type_per_body(schema: dict[str, Any]) -> None:
    """A request body declares JSON only; the other encodings a route takes (NDJSON,
    protobuf, forms) are named in its description.

    Routers declare everything they accept. But openapi-python-client 0.29 writes a
    request builder that fails for a body of several media types (it names `Unset`
    without importing it, and checks `isinstance(body, list[EventIn])`), and
    openapi-typescript types the JSON one anyway."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            body = operation.get("requestBody", {})
            content = body.get("content", {})
            if len(content) < 2 or "application/json" not in content:
                continue
            others = [media_type for media_type in content if media_type != "application/json"]
            for media_type in others:
                del content[media_type]
            words = "Also accepted as " + " or ".join(f"`{m}`" for m in others) + "."
            body["description"] = f"{body.get('description', '')} {words}".strip()


def install_openapi(app: FastAPI, *, servers: list[dict[str, str]]) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary="Self-hosted analytics for AI coding assistants",
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=servers,
                contact=app.contact,
                license_info=app.license_info,
            )
            # Routers' `openapi_extra` dicts are in it by reference: edit a copy.
            schema = copy.deepcopy(generated)
            _problem_everywhere(schema)
            _named_request_bodies(schema)
            _one_media_type_per_body(schema)
            _request_defaults_in_words(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
