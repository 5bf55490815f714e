"""`prodlens report`: a project's KPIs for a window, read straight from the database
with the same computation as `GET /api/v1/projects/{id}/metrics`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prodlens.analytics import kpis
from prodlens.analytics.kpis import Filters
from prodlens.analytics.schemas import Kpi, KpiReport
from prodlens.config import Settings
from prodlens.kit.db import Database
from prodlens.kit.errors import ProblemError
from prodlens.kit.migrations import head_revisions
from prodlens.projects.deps import find_project

_STATUS_STYLE = {
    "good": "green",
    "warning": "yellow",
    "critical": "red",
    "insufficient_data": "dim",
}
CSV_COLUMNS = (
    "name",
    "value",
    "unit",
    "target",
    "warning_threshold",
    "direction",
    "status",
    "sample_size",
    "min_sample",
)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class ReportFailed(Exception):
    """A reason to stop, already phrased for the user."""


def _moment(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2025-05-01 or 2025-05-01T09:00Z).",
            param_hint=option,
        ) from None


async def _report(
    settings: Settings,
    project_ref: str,
    since: datetime,
    until: datetime | None,
    filters: Filters,
) -> KpiReport:
    window = kpis.resolve_window(since, until, now=datetime.now(UTC))
    database = Database(settings)
    try:
        if await database.current_revision() not in head_revisions():
            raise ReportFailed("The database is not migrated: run `prodlens migrate` first.")
        async with database.sessionmaker() as session:
            project = await find_project(session, project_ref)
            if project is None:
                raise ReportFailed(f"No project with id or slug {project_ref!r}.")
            return await kpis.compute_kpis(session, project, window, filters)
    finally:
        await database.dispose()


def _shown(kpi: Kpi) -> str:
    if kpi.value is None:
        return "-"
    if kpi.unit == "ratio":
        return f"{kpi.value:.1%}"
    if kpi.unit.startswith("USD"):
        return f"${kpi.value:,.2f}"
    if kpi.unit == "ms":
        return f"{kpi.value:,.0f} ms"
    return f"{kpi.value:,.2f}"


def _threshold(kpi: Kpi, value: float) -> str:
    sign = ">=" if kpi.direction == "higher_is_better" else "<="
    shown = f"{value:.0%}" if kpi.unit == "ratio" else f"{value:g}"
    return f"{sign} {shown}"


def _table(report: KpiReport) -> Table:
    scope = ", ".join(
        part
        for part in (
            f"developer {report.developer}" if report.developer else "",
            f"model {report.model}" if report.model else "",
        )
        if part
    )
    table = Table(
        title=f"KPIs {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC"
        + (f" ({scope})" if scope else "")
    )
    for column in ("KPI", "value", "unit", "good", "warning", "status", "sample"):
        table.add_column(column, justify="right" if column in ("value", "sample") else "left")
    for kpi in report.kpis:
        style = _STATUS_STYLE[kpi.status]
        table.add_row(
            kpi.label,
            _shown(kpi),
            kpi.unit,
            _threshold(kpi, kpi.target),
            _threshold(kpi, kpi.warning_threshold),
            f"[{style}]{kpi.status}[/]",
            f"{kpi.sample_size}/{kpi.min_sample}",
        )
    return table


def _csv(report: KpiReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for kpi in report.kpis:
        row = kpi.model_dump(include=set(CSV_COLUMNS))
        writer.writerow({**row, "value": "" if kpi.value is None else repr(kpi.value)})
    return buffer.getvalue()


def report(
    project: Annotated[str, typer.Option(help="Project id or slug.")],
    since: Annotated[
        str, typer.Option(help="Window start, ISO 8601 (UTC unless an offset is given).")
    ],
    until: Annotated[str | None, typer.Option(help="Window end, exclusive (default: now).")] = None,
    developer: Annotated[str | None, typer.Option(help="Only this developer id.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    output: Annotated[
        Format, typer.Option("--format", help="table (Rich), csv or json.")
    ] = Format.TABLE,
) -> None:
    """A project's KPIs for a window, as a table, CSV or JSON."""
    # Imported here: prodlens.cli imports this module to register the command.
    from prodlens.cli import errors, load_settings

    window_since = _moment(since, "--since")
    window_until = _moment(until, "--until") if until is not None else None
    settings = load_settings()
    try:
        result = asyncio.run(
            _report(settings, project, window_since, window_until, Filters(developer, model))
        )
    except ProblemError as exc:  # an invalid window, phrased as the API would
        errors.print(f"[red]{exc.title}[/]: {exc.detail}")
        raise typer.Exit(2) from None
    except ReportFailed as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    if output is Format.JSON:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    elif output is Format.CSV:
        typer.echo(_csv(result), nl=False)
    else:
        console = Console()
        # Piped or captured output defaults to 80 columns, which would cut the labels.
        console.width = max(console.width, 120)
        console.print(_table(result))
