"""`prodlens report`: a project's KPIs for a window, read straight from the database
with the same computation as `GET /api/v1/projects/{id}/metrics`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from prodlens.cli.common import CliError, load_settings, migrated_database, require_project, run

if TYPE_CHECKING:
    from rich.table import Table

    from prodlens.analytics.schemas import Kpi, KpiReport
    from prodlens.config import Settings

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


def _format(text: str) -> Format:
    try:
        return Format(text.lower())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a report format: use table, csv or json."
        ) from None


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
    developer: str | None,
    model: str | None,
) -> KpiReport:
    from prodlens.analytics import kpis
    from prodlens.kit.errors import ProblemError

    try:
        window = kpis.resolve_window(since, until, now=datetime.now(UTC))
        async with migrated_database(settings) as database, database.sessionmaker() as session:
            project = await require_project(session, project_ref)
            filters = kpis.Filters(developer, model)
            return await kpis.compute_kpis(session, project, window, filters)
    except ProblemError as exc:  # an invalid window, phrased as the API would
        raise CliError(f"{exc.title}: {exc.detail}", exit_code=2) from None


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
    from rich.table import Table

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
        Format,
        typer.Option(
            "--format",
            parser=_format,
            metavar="FORMAT",
            help="table (for people, in colour), csv or json.",
        ),
    ] = Format.TABLE,
) -> None:
    """A project's KPIs for a window, as a table, CSV or JSON."""
    from rich.console import Console

    window_since = _moment(since, "--since")
    window_until = _moment(until, "--until") if until is not None else None
    settings = load_settings()
    result = run(_report(settings, project, window_since, window_until, developer, model))
    if output is Format.JSON:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    elif output is Format.CSV:
        typer.echo(_csv(result), nl=False)
    else:
        console = Console()
        # Piped or captured output defaults to 80 columns, which would cut the labels.
        console.width = max(console.width, 120)
        console.print(_table(result))
