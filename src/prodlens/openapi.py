"""The OpenAPI document: metadata, stable operation ids, problem responses everywhere."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from prodlens.analytics.ingest.events import EventIn
from prodlens.kit.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, Problem

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


def operation_id(route: APIRoute) -> str:
    """The route function's name: short, stable, and unique (a test checks)."""
    return route.name


def _problem_everywhere(schema: dict[str, Any]) -> None:
    """Validation errors and the generic 500 answer problem documents on every operation."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    # Models referenced by hand-written request bodies and responses.
    for model in (Problem, EventIn):
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


def install_openapi(app: FastAPI, *, servers: list[dict[str, str]]) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
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
            _problem_everywhere(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
