"""`/api/v1/projects/{project_id}/metrics`: KPIs, raw sums, time series and KPI targets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from prodlens.analytics import kpis
from prodlens.analytics.deps import RollingWindowDep
from prodlens.analytics.kpis import Filters, InvalidTarget, UnknownKpi
from prodlens.analytics.schemas import (
    Interval,
    KpiReport,
    MetricName,
    RawMetrics,
    TargetsPublic,
    TargetsUpdate,
    TimeSeries,
)
from prodlens.analytics.timeseries import TooManyBuckets, UnsupportedFilter, timeseries
from prodlens.analytics.window import InvalidWindow
from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClockDep
from prodlens.kit.errors import problem_responses
from prodlens.projects.deps import SCOPED, ProjectMaintainer, ProjectReader

router = APIRouter(
    prefix="/api/v1/projects/{project_id}/metrics",
    tags=["metrics"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)


def _filters(
    developer: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Only this developer id.")
    ] = None,
    model: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Only this model.")
    ] = None,
) -> Filters:
    return Filters(developer=developer, model=model)


FiltersDep = Annotated[Filters, Depends(_filters)]


@router.get(
    "",
    response_model=KpiReport,
    summary="Every KPI for a window, with target, direction, status and sample size",
    responses=problem_responses(InvalidWindow),
)
async def project_kpis(
    context: ProjectReader, window: RollingWindowDep, filters: FiltersDep, session: SessionDep
) -> KpiReport:
    return await kpis.compute_kpis(session, context.project, window, filters)


@router.get(
    "/raw",
    response_model=RawMetrics,
    summary="The sums the KPIs are computed from (calls, tokens, cost, developers, PRs …)",
    responses=problem_responses(InvalidWindow),
)
async def project_raw_metrics(
    context: ProjectReader, window: RollingWindowDep, filters: FiltersDep, session: SessionDep
) -> RawMetrics:
    return await kpis.raw_metrics(session, context.project, window, filters)


@router.get(
    "/timeseries",
    response_model=TimeSeries,
    summary="One metric per hour, day or ISO week, zero-filled",
    responses=problem_responses(InvalidWindow, TooManyBuckets, UnsupportedFilter),
)
async def project_timeseries(
    context: ProjectReader,
    window: RollingWindowDep,
    filters: FiltersDep,
    session: SessionDep,
    metric: MetricName = "events",
    interval: Interval = "day",
) -> TimeSeries:
    return await timeseries(
        session, context.project, window, filters, metric=metric, interval=interval
    )


@router.get(
    "/targets",
    response_model=TargetsPublic,
    summary="The KPI targets in force: defaults and this project's overrides",
)
async def get_kpi_targets(context: ProjectReader) -> TargetsPublic:
    return kpis.targets_public(context.project)


@router.put(
    "/targets",
    response_model=TargetsPublic,
    summary="Replace this project's KPI target overrides (maintainers)",
    responses=problem_responses(UnknownKpi, InvalidTarget),
)
async def put_kpi_targets(
    body: TargetsUpdate, context: ProjectMaintainer, session: SessionDep, clock: ClockDep
) -> TargetsPublic:
    return await kpis.set_targets(session, context.project, body, clock=clock)
