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
_VALIDATION_DESCRIPTION = "Problem: `validation.failed` (with `errors`) or `request.malformed_json`"


class EventBatch(Strict):
    """Events in an envelope: `{"events": [...]}`, nothing else beside them."""

    events: list[EventIn] = Field(max_length=MAX_BATCH)


def operation_id(route: APIRoute) -> str:
    """The route function's name: short, stable, and unique (a test checks)."""
    return route.name


def _problem_everywhere(schema: dict[str, Any]) -> None:
    """Validation errors and the generic 500 answer problem documents on every operation."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    # Models referenced by hand-written request bodies and responses.
    for model in (Problem, EventIn, EventBatch):
        name = model.__name__
        components[name] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for inner, definition in components[name].pop("$defs", {}).items():
            components[inner] = definition
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}}

    def declare(responses: dict[str, Any], status: str, codes: str) -> None:
        responses.setdefault(
            status, {"description": f"Problem: {codes}", "content": problem_content}
        )

    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if path.startswith("/api/"):  # what middleware can answer on any API route
                declare(responses, "429", "`rate_limit.exceeded`")
                declare(responses, "503", "`service.maintenance`")
                if "requestBody" in operation:
                    declare(responses, "413", "`http.payload_too_large`")
            if "422" in responses:
                responses["422"] = {
                    "description": _VALIDATION_DESCRIPTION,
                    "content": problem_content,
                }
            responses.setdefault(
                "500", {"description": "Problem: `internal.error`", "content": problem_content}
            )


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
