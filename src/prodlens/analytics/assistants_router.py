"""What coding assistants report about themselves: the read side of their daily facts
(`GET …/assistants`) and the upload of GitHub Copilot usage reports
(`POST …/ingest/copilot`). HTTP only: the rules live in assistants.py and copilot.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from prodlens.analytics import assistants, copilot
from prodlens.analytics.deps import CalendarDaysDep
from prodlens.analytics.ingest.routing import limit_ingest
from prodlens.analytics.kpis.conditions import Filters
from prodlens.analytics.window import InvalidWindow
from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClockDep
from prodlens.kit.errors import PayloadTooLarge, problem_responses
from prodlens.projects.deps import SCOPED, ProjectIngest, ProjectReader
from prodlens.ratelimit.errors import RateLimited

router = APIRouter(
    prefix="/api/v1/projects/{project_id}",
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)

COPILOT_RECORD = {
    "type": "object",
    "required": ["day", "user_login"],
    "properties": {
        "day": {"type": "string", "format": "date"},
        "user_login": {"type": "string"},
    },
    "additionalProperties": True,
    "description": "One record of GitHub's per-user Copilot usage report (open: GitHub's "
    "fields, docs/assistants.md lists those read; others are ignored).",
}
COPILOT_BODY = {
    "required": True,
    "description": "A GitHub Copilot per-user usage report as its download links serve "
    "it (NDJSON, one record per user and day), or a JSON array of those records.",
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": COPILOT_RECORD}},
    },
}


@router.get(
    "/assistants",
    tags=["assistants"],
    response_model=assistants.AssistantUsage,
    summary="What coding assistants report (Claude Code, Copilot, OpenTelemetry): sums per "
    "metric, by source, optionally grouped",
    description=(
        "Sums of the assistants' daily facts over every whole UTC day the window touches "
        "(default: the last 30 UTC days, today included). `group_by=developer` groups by "
        "developer through the identity links; any other `group_by` by that dimension "
        "(facts without it form the `null` group). `model` keeps facts with that model "
        "dimension. Metric names are listed in docs/assistants.md."
    ),
    responses=problem_responses(InvalidWindow),
)
async def assistant_usage(
    context: ProjectReader,
    window: CalendarDaysDep,
    session: SessionDep,
    developer: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="Only this developer (any identity)."),
    ] = None,
    model: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Only facts of this model.")
    ] = None,
    source: Annotated[
        assistants.AssistantSource | None, Query(description="Only this source.")
    ] = None,
    group_by: Annotated[
        assistants.GroupBy | None, Query(description="Group by developer or a dimension.")
    ] = None,
) -> assistants.AssistantUsage:
    return await assistants.assistant_usage(
        session,
        context.project.id,
        window,
        Filters(developer=developer, model=model),
        source=source,
        group_by=group_by,
    )


@router.post(
    "/ingest/copilot",
    tags=["ingest"],
    response_model=copilot.CopilotImport,
    summary="Import a GitHub Copilot per-user usage report (maintainers or an ingest key)",
    description=(
        "Each (day, user) of the report replaces what the project held for it, so "
        "importing a report twice counts it once. Records that cannot be read are "
        "counted in `rejected`, with their line or item numbers; the rest is imported."
    ),
    openapi_extra={"requestBody": COPILOT_BODY},
    responses=problem_responses(copilot.InvalidReport, PayloadTooLarge, RateLimited),
)
async def ingest_copilot(
    request: Request, context: ProjectIngest, session: SessionDep, clock: ClockDep
) -> copilot.CopilotImport:
    await limit_ingest(request, context)
    body = await request.body()
    return await copilot.import_report(session, context.project.id, body, clock.now())
