"""Health endpoints: liveness, readiness (dependencies and migrations) and details."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from prodlens import __version__
from prodlens.auth.deps import is_admin_request
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import Database
from prodlens.kit.deps import DatabaseDep, SettingsDep, StateStoreDep
from prodlens.kit.errors import (
    PROBLEM_MEDIA_TYPE,
    ServiceUnavailable,
    correlation_id_of,
    problem_body,
    problem_responses,
)
from prodlens.kit.state import StateStore

router = APIRouter(prefix="/health", tags=["health"], route_class=InstrumentedRoute)

# "degraded": unreachable, but the service works around it (local fallback for Redis).
CheckStatus = Literal["ok", "degraded", "failing"]


class NotReady(ServiceUnavailable):
    code, title = "health.not_ready", "Service not ready"


class Check(BaseModel):
    status: CheckStatus
    latency_ms: float | None = None
    detail: str | None = Field(None, description="Why a check fails, or what it found.")


class HealthStatus(BaseModel):
    status: Literal["ok"] = "ok"


class LiveStatus(BaseModel):
    status: Literal["alive"] = "alive"


class ReadyStatus(BaseModel):
    status: Literal["ready", "degraded"] = "ready"
    checks: dict[str, Check]


class DetailedHealth(BaseModel):
    status: CheckStatus
    version: str
    environment: str
    uptime_seconds: float
    checks: dict[str, Check]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _failing_database(database: Database, detail: str, started: float) -> dict[str, Check]:
    return {
        "database": Check(status="failing", latency_ms=_elapsed_ms(started), detail=detail),
        "migrations": Check(status="failing", detail="unknown: database unavailable"),
    }


async def _database_checks(database: Database, heads: frozenset[str]) -> dict[str, Check]:
    started = time.perf_counter()
    # An open outage is known without asking again (its probe is already asking), and a
    # full or read-only volume fails writes while reads still answer.
    if database.outage.is_open:
        return _failing_database(
            database, f"{database.backend} unavailable ({database.outage.reason})", started
        )
    if problem := database.storage_problem():
        return _failing_database(database, f"{database.backend}: {problem}", started)
    try:
        revision = await database.current_revision()
    except Exception as exc:  # any failure to reach it means "not ready", never a 500
        return _failing_database(
            database, f"{database.backend} unreachable ({type(exc).__name__})", started
        )
    database_check = Check(status="ok", latency_ms=_elapsed_ms(started), detail=database.backend)
    if revision in heads:
        migrations = Check(status="ok", detail=f"at {revision}")
    else:
        migrations = Check(
            status="failing",
            detail=f"at {revision or 'nothing'}, expected {', '.join(sorted(heads))}; "
            "run `prodlens migrate`",
        )
    return {"database": database_check, "migrations": migrations}


async def _state_check(store: StateStore) -> Check:
    started = time.perf_counter()
    try:
        await store.ping()
    except Exception as exc:  # unreachable Redis is a check result, not a crash
        return Check(
            status="degraded",
            latency_ms=_elapsed_ms(started),
            detail=f"{store.backend} unreachable ({type(exc).__name__}); "
            "limits, lockouts and revocations are per worker until it is back",
        )
    return Check(status="ok", latency_ms=_elapsed_ms(started), detail=store.backend)


async def _migration_heads(request: Request) -> frozenset[str]:
    heads: frozenset[str] = request.app.state.migration_heads
    return heads


async def _started_monotonic(request: Request) -> float:
    started: float = request.app.state.started_monotonic
    return started


async def _run_checks(
    database: DatabaseDep,
    heads: Annotated[frozenset[str], Depends(_migration_heads)],
    store: StateStoreDep,
) -> dict[str, Check]:
    checks = await _database_checks(database, heads)
    checks["state"] = await _state_check(store)
    return checks


ChecksDep = Annotated[dict[str, Check], Depends(_run_checks)]


@router.get("", response_model=HealthStatus, summary="Cheap check that the process answers")
async def health() -> HealthStatus:
    return HealthStatus()


@router.get("/live", response_model=LiveStatus, summary="Liveness probe")
async def health_live() -> LiveStatus:
    return LiveStatus()


@router.get(
    "/ready",
    response_model=ReadyStatus,
    summary="Readiness: database reachable and migrated (Redis down: 200, degraded)",
    responses=problem_responses(NotReady),
)
async def health_ready(request: Request, checks: ChecksDep) -> ReadyStatus | JSONResponse:
    failing = {name: check for name, check in checks.items() if check.status == "failing"}
    if not failing:
        degraded = any(check.status == "degraded" for check in checks.values())
        return ReadyStatus(status="degraded" if degraded else "ready", checks=checks)
    body = problem_body(
        NotReady,
        instance=request.url.path,
        correlation_id=correlation_id_of(request.scope),
        detail="; ".join(f"{name}: {check.detail}" for name, check in failing.items()),
    )
    body["checks"] = {name: check.model_dump() for name, check in checks.items()}
    return JSONResponse(body, status_code=NotReady.status, media_type=PROBLEM_MEDIA_TYPE)


@router.get(
    "/detailed",
    response_model=DetailedHealth,
    summary="Each dependency's status and latency, version and uptime (details for admins)",
)
async def health_detailed(
    request: Request,
    checks: ChecksDep,
    settings: SettingsDep,
    started: Annotated[float, Depends(_started_monotonic)],
) -> DetailedHealth:
    if not await is_admin_request(request.scope):
        # What failed and why (backends, revisions, error types) is for admins only.
        checks = {name: check.model_copy(update={"detail": None}) for name, check in checks.items()}
    statuses = {check.status for check in checks.values()}
    return DetailedHealth(
        status="failing"
        if "failing" in statuses
        else "degraded"
        if "degraded" in statuses
        else "ok",
        version=__version__,
        environment=settings.env.value,
        uptime_seconds=round(time.monotonic() - started, 3),
        checks=checks,
    )
