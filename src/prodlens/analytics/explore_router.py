"""Exploring a project's usage: sessions, developers, insights and exports.

Members (viewer and up) or an API key with the `read` scope. HTTP only: the
rules live in sessions.py, profiles.py, insights/ and exports.py.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from prodlens.analytics import calendar, exports, insights, profiles, schemas, sessions
from prodlens.analytics.deps import CalendarDaysDep, InsightsDaysDep
from prodlens.analytics.insights import interventions
from prodlens.analytics.window import InvalidWindow, bounded
from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClockDep, DatabaseDep
from prodlens.kit.errors import problem_responses
from prodlens.kit.pagination import InvalidSort, Page, PageDep
from prodlens.projects.deps import SCOPED, ProjectMaintainer, ProjectReader

router = APIRouter(
    prefix="/api/v1/projects/{project_id}",
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)

WINDOW_NOTE = (
    " Default window: the last 30 UTC days, today included; at most 366 days. Daily "
    "figures cover every whole UTC day the window touches."
)


# --- sessions -----------------------------------------------------------------------------


@router.get(
    "/sessions",
    tags=["sessions"],
    response_model=sessions.LlmSessionList,
    summary="LLM sessions: filter, sort, page by number or by cursor",
    description=(
        "Page mode: `page` and `page_size`, with `total`. Cursor mode, for deep paging in "
        "large projects: pass the `next_cursor` of the previous answer as `cursor` (with the "
        "same `sort` and filters); `page` is then ignored and no total is counted."
    ),
    responses=problem_responses(InvalidSort, sessions.InvalidCursor, InvalidWindow),
)
async def list_llm_sessions(
    context: ProjectReader,
    session: SessionDep,
    page: PageDep,
    developer: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    model: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Sessions that used it.")
    ] = None,
    since: Annotated[datetime | None, Query(description="Sessions started at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Sessions started before.")] = None,
    accepted: Annotated[
        bool | None,
        Query(description="true: with an accepted suggestion; false: with none."),
    ] = None,
    status: Annotated[
        Literal["ok", "error"] | None, Query(description="error: sessions with any error.")
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=20,
            description="started_at (or time), cost, tokens, latency; `-` for descending. "
            "Default `-started_at`.",
        ),
    ] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> sessions.LlmSessionList:
    filters = sessions.SessionFilters(
        developer=developer,
        model=model,
        since=None if since is None else bounded("since", since),
        until=None if until is None else bounded("until", until),
        accepted=accepted,
        status=status,
    )
    return await sessions.list_sessions(
        session,
        context.project.id,
        filters,
        sort=sessions.parse_sort(sort),
        page=page,
        cursor=cursor,
    )


@router.get(
    "/sessions/{session_id}",
    tags=["sessions"],
    response_model=sessions.LlmSessionDetail,
    summary="One session with its events (metadata only)",
    responses=problem_responses(sessions.SessionNotFound),
)
async def get_llm_session(
    context: ProjectReader,
    session: SessionDep,
    session_id: Annotated[str, Path(max_length=128)],
) -> sessions.LlmSessionDetail:
    return await sessions.session_detail(session, context.project.id, session_id)


# --- developers ---------------------------------------------------------------------------


@router.get(
    "/developers",
    tags=["developers"],
    response_model=Page[schemas.DeveloperSummary],
    summary="Developers with their totals over a window",
    description="Events without a developer id are left out." + WINDOW_NOTE,
    responses=problem_responses(InvalidSort, InvalidWindow),
)
async def list_developers(
    context: ProjectReader,
    session: SessionDep,
    window: CalendarDaysDep,
    page: PageDep,
    sort: Annotated[
        str | None,
        Query(
            max_length=20,
            description="developer_id, events, errors, tokens, cost, last_active; `-` desc. "
            "Default `-events`.",
        ),
    ] = None,
) -> Page[schemas.DeveloperSummary]:
    items, total = await profiles.list_developers(
        session, context.project.id, window, sort=sort, page=page
    )
    return Page[schemas.DeveloperSummary].build(items, total=total, params=page)


@router.get(
    "/developers/{developer_id}",
    tags=["developers"],
    response_model=schemas.DeveloperProfile,
    summary="A developer's usage, cost, acceptance, models, heatmap and cost trend",
    description=WINDOW_NOTE.strip(),
    responses=problem_responses(profiles.DeveloperNotFound, InvalidWindow),
)
async def get_developer_profile(
    context: ProjectReader,
    session: SessionDep,
    window: CalendarDaysDep,
    developer_id: Annotated[str, Path(max_length=128)],
) -> schemas.DeveloperProfile:
    return await profiles.developer_profile(session, context.project.id, developer_id, window)


# --- insights -----------------------------------------------------------------------------


@router.get(
    "/insights",
    tags=["insights"],
    response_model=schemas.InsightsReport,
    summary="Lagged correlation of AI activity with delivery, anomalies, findings",
    description=(
        "Daily events against daily commits and merged PRs at lags 0..max_lag working days "
        "(activity leading), on working days only, after weekday effects, the trend and "
        "autocorrelation are taken out; Benjamini-Hochberg across every test. Anomalies: "
        "days and developer-days far above their calendar-aware baselines, the threshold "
        "corrected for the number of points examined. Observational. See docs/metrics.md. "
        "Default window: the last 60 UTC days, today included; at most 366 days."
    ),
    responses=problem_responses(InvalidWindow),
)
async def get_insights(
    context: ProjectReader,
    session: SessionDep,
    window: InsightsDaysDep,
    max_lag: Annotated[int, Query(ge=0, le=14)] = insights.DEFAULT_MAX_LAG,
) -> schemas.InsightsReport:
    return await insights.build_report(session, context.project, window, max_lag=max_lag)


@router.get(
    "/calendar",
    tags=["insights"],
    response_model=schemas.CalendarPublic,
    summary="The project's working calendar: working weekdays and holidays",
)
async def get_calendar(context: ProjectReader) -> schemas.CalendarPublic:
    return calendar.calendar_public(context.project)


@router.put(
    "/calendar",
    tags=["insights"],
    response_model=schemas.CalendarPublic,
    summary="Set the working weekdays and holidays the insights use (maintainers)",
)
async def put_calendar(
    body: schemas.CalendarUpdate, context: ProjectMaintainer, session: SessionDep, clock: ClockDep
) -> schemas.CalendarPublic:
    return await calendar.set_calendar(session, context.project, body, clock=clock)


@router.get(
    "/insights/interventions",
    tags=["insights"],
    response_model=schemas.InterventionReport,
    summary="What changed when developers adopted a tool or model on a date (observational)",
    description=(
        "Each KPI before and after `date`: difference-in-differences of the adopters against "
        "the other developers (the developer is the unit; Welch t), or, without a comparison "
        "group, the level shift beyond the team's own trend (segmented regression, "
        "Newey-West). 95 % intervals, sample sizes, working days of the project's calendar "
        "only. Observational: not proof of cause."
    ),
    responses=problem_responses(
        interventions.UnknownAdopters, interventions.InvalidAdopters, InvalidWindow
    ),
)
async def get_intervention_analysis(
    context: ProjectReader,
    session: SessionDep,
    clock: ClockDep,
    adoption_date: Annotated[
        date, Query(alias="date", description="First UTC day of the after period.")
    ],
    adopters: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=interventions.MAX_ADOPTERS * 130,
            description="Comma-separated developer ids, at most "
            f"{interventions.MAX_ADOPTERS}. Without it: the team against its own trend.",
        ),
    ] = None,
    days: Annotated[
        int,
        Query(
            ge=interventions.MIN_DAYS,
            le=interventions.MAX_DAYS,
            description="Length of the before and of the after period, in calendar days.",
        ),
    ] = interventions.DEFAULT_DAYS,
    metric: Annotated[
        list[schemas.InterventionMetric] | None,
        Query(description="KPIs to analyse (repeat the parameter); default all."),
    ] = None,
) -> schemas.InterventionReport:
    return await interventions.build_report(
        session,
        context.project,
        on=adoption_date,
        adopters=interventions.parse_adopters(adopters),
        days=days,
        metrics=metric,
        today=clock.now().date(),
    )


# --- exports ------------------------------------------------------------------------------

ExportFormat = Annotated[exports.ExportFormat, Query(description="csv or parquet.")]
EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as an attachment.",
        "content": {exports.CSV_MEDIA_TYPE.split(";")[0]: {}, exports.PARQUET_MEDIA_TYPE: {}},
    }
}


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/exports/events",
    tags=["exports"],
    summary="The window's events as CSV (streamed) or Parquet",
    description="Ordered by ingest (`id`); `tags` and `attributes` as JSON text in CSV."
    + WINDOW_NOTE,
    response_class=Response,
    responses={**EXPORT_CONTENT, **problem_responses(InvalidWindow)},
)
async def export_events(
    database: DatabaseDep,
    context: ProjectReader,
    session: SessionDep,
    window: CalendarDaysDep,
    format: ExportFormat = "csv",
) -> Response:
    name = exports.filename(context.project.slug, "events", window, format)
    if format == "csv":
        return StreamingResponse(
            exports.events_csv(database.sessionmaker, context.project.id, window),
            media_type=exports.CSV_MEDIA_TYPE,
            headers=_attachment(name),
        )
    path = await exports.events_parquet(session, context.project.id, window)
    return FileResponse(
        path,
        media_type=exports.PARQUET_MEDIA_TYPE,
        headers=_attachment(name),
        background=BackgroundTask(os.unlink, path),
    )


@router.get(
    "/exports/timeseries",
    tags=["exports"],
    summary="Daily events, errors, acceptance, tokens and cost as CSV or Parquet",
    description="One zero-filled row per UTC day, from the daily rollups." + WINDOW_NOTE,
    response_class=Response,
    responses={**EXPORT_CONTENT, **problem_responses(InvalidWindow)},
)
async def export_timeseries(
    context: ProjectReader,
    session: SessionDep,
    window: CalendarDaysDep,
    format: ExportFormat = "csv",
    interval: Annotated[Literal["day"], Query(description="Only `day` for now.")] = "day",
) -> Response:
    name = exports.filename(context.project.slug, "timeseries", window, format)
    rows = await exports.timeseries_rows(session, context.project.id, window)
    if format == "csv":
        return Response(
            exports.timeseries_csv(rows),
            media_type=exports.CSV_MEDIA_TYPE,
            headers=_attachment(name),
        )
    return Response(
        await exports.timeseries_parquet(rows),
        media_type=exports.PARQUET_MEDIA_TYPE,
        headers=_attachment(name),
    )
