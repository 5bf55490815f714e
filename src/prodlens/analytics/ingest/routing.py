"""What the ingest routers share: the router shape, the ingest limit and the JSON path.

Routers never import each other; both ingest routers build on this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.identities import Sighting
from prodlens.analytics.ingest import service
from prodlens.analytics.ingest.payload import read_json
from prodlens.analytics.ingest.service import BatchTooLarge, IngestResponse, InvalidBatch
from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.clock import Clock
from prodlens.kit.errors import JsonTooDeep, MalformedJson, PayloadTooLarge, problem_responses
from prodlens.projects.deps import ProjectContext
from prodlens.ratelimit.deps import enforce_request
from prodlens.ratelimit.errors import RateLimited
from prodlens.realtime.service import Publisher


def new_ingest_router() -> APIRouter:
    """What every ingest router shares: prefix, tag, route class and the problems any
    ingest route can answer."""
    return APIRouter(
        prefix="/api/v1",
        tags=["ingest"],
        route_class=InstrumentedRoute,
        responses=problem_responses(
            NotAuthenticated,
            MalformedJson,
            JsonTooDeep,
            InvalidBatch,
            BatchTooLarge,
            PayloadTooLarge,
            RateLimited,
        ),
    )


async def limit_ingest(request: Request, context: ProjectContext) -> None:
    """Machines are limited per key; people per project."""
    key = f"key:{context.api_key.id}" if context.api_key else f"project:{context.project.id}"
    await enforce_request(request, "ingest", key)


async def ingest_json(
    request: Request,
    context: ProjectContext,
    session: AsyncSession,
    clock: Clock,
    publisher: Publisher | None,
    *,
    source: str,
    max_depth: int,
    adapt: Callable[[Any], Any] | None = None,
    identify: Callable[[Any], Sighting | None] | None = None,
) -> IngestResponse:
    """A JSON batch (array, `{"events": [...]}`, single object or NDJSON, nested at most
    `max_depth` deep), each item mapped to the native shape by `adapt` when the format
    needs it (and `identify`: see `service.ingest_document`)."""
    await limit_ingest(request, context)
    document = await read_json(request, max_depth=max_depth)
    return await service.ingest_document(
        session,
        context.project,
        document,
        source=source,
        clock=clock,
        adapt=adapt,
        identify=identify,
        publisher=publisher,
    )
