"""Exports of events and daily series as CSV or Parquet.

Memory stays flat however large the window: events are read in chunks by
keyset over `id` (never OFFSET, never all at once). CSV chunks are streamed as
they are read; Parquet is written chunk by chunk as row groups to a temporary
file in a worker thread (pyarrow is CPU-bound) and then sent from disk.

PyArrow is imported by the Parquet functions alone, and the Arrow schemas are
built on first use: a process that never writes Parquet never loads it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.analytics.formulas import FRACTIONAL_COUNTERS, counter_value
from prodlens.analytics.identities import IdentityMap, load_identity_map
from prodlens.analytics.models import Event
from prodlens.analytics.window import Window, daily_rollup_sums, daily_series

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

ExportFormat = Literal["csv", "parquet"]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
CHUNK_ROWS = 5000

# Each exported event field and its Arrow type, by name (pyarrow is not loaded here).
ArrowType = Literal["string", "timestamp", "date", "float64", "int64", "int32", "bool", "strings"]
EVENT_FIELDS: tuple[tuple[str, ArrowType], ...] = (
    ("event_id", "string"),
    ("session_id", "string"),
    ("developer_id", "string"),  # the developer, identities linked to one mapped to it
    ("identity", "string"),  # the developer id the source sent
    ("started_at", "timestamp"),
    ("ended_at", "timestamp"),
    ("latency_ms", "float64"),
    ("ttft_ms", "float64"),
    ("provider", "string"),
    ("operation", "string"),
    ("request_model", "string"),
    ("response_model", "string"),
    ("input_tokens", "int64"),
    ("output_tokens", "int64"),
    ("cache_read_tokens", "int64"),
    ("cache_creation_tokens", "int64"),
    ("total_tokens", "int64"),
    ("cost_usd", "float64"),
    ("cost_source", "string"),
    ("status", "string"),
    ("http_status", "int32"),
    ("error_type", "string"),
    ("finish_reason", "string"),
    ("accepted", "bool"),
    ("lines_suggested", "int32"),
    ("lines_accepted", "int32"),
    ("repo", "string"),
    ("tags", "strings"),
    ("attributes", "string"),  # JSON text: free-form keys do not fit one schema
    ("source", "string"),
    ("ingested_at", "timestamp"),
)
EVENT_COLUMNS = tuple(name for name, _ in EVENT_FIELDS)

# The daily export's counters, after its `date` column.
TIMESERIES_COLUMNS = (
    "events",
    "errors",
    "accepted",
    "rejected",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
)
TIMESERIES_HEADER = ("date", *TIMESERIES_COLUMNS)
TIMESERIES_FIELDS: tuple[tuple[str, ArrowType], ...] = (
    ("date", "date"),
    *((name, "float64" if name in FRACTIONAL_COUNTERS else "int64") for name in TIMESERIES_COLUMNS),
)


def _arrow_schema(fields: Sequence[tuple[str, ArrowType]]) -> pa.Schema:
    import pyarrow as pa

    types: dict[ArrowType, pa.DataType] = {
        "string": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "float64": pa.float64(),
        "int64": pa.int64(),
        "int32": pa.int32(),
        "bool": pa.bool_(),
        "strings": pa.list_(pa.string()),
    }
    return pa.schema([(name, types[kind]) for name, kind in fields])


@cache
def event_schema() -> pa.Schema:
    return _arrow_schema(EVENT_FIELDS)


@cache
def timeseries_schema() -> pa.Schema:
    return _arrow_schema(TIMESERIES_FIELDS)


# A cell starting with one of these is a formula to a spreadsheet (CSV injection);
# ingested strings (developer ids, repos, error types) are not ours to trust.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def filename(slug: str, what: str, window: Window, export_format: ExportFormat) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", slug).strip("-") or "project"
    return f"prodlens-{safe}-{what}-{window.first_day}-{window.last_day}.{export_format}"


def _event_row(row: Sequence[Any], links: IdentityMap) -> dict[str, Any]:
    values = dict(zip(EVENT_COLUMNS, row, strict=True))
    if values["identity"] is not None:
        values["developer_id"] = links.developer_of(values["identity"])
    if isinstance(values["cost_usd"], Decimal):
        values["cost_usd"] = float(values["cost_usd"])
    values["tags"] = list(values["tags"] or [])
    values["attributes"] = json.dumps(values["attributes"] or {}, sort_keys=True)
    return values


async def _event_chunks(
    session: AsyncSession, project_id: str, window: Window
) -> AsyncIterator[list[dict[str, Any]]]:
    table = Event.__table__
    # `identity` is the stored developer id; `developer_id` is mapped from it per row.
    columns = [table.c["developer_id" if name == "identity" else name] for name in EVENT_COLUMNS]
    links = await load_identity_map(session, project_id)
    last_id = 0
    while True:
        result = await session.execute(
            select(table.c.id, *columns)
            .where(
                table.c.project_id == project_id,
                table.c.started_at >= window.since,
                table.c.started_at < window.until,
                table.c.id > last_id,
            )
            .order_by(table.c.id)
            .limit(CHUNK_ROWS)
        )
        rows = list(result)
        if not rows:
            return
        last_id = rows[-1][0]
        yield [_event_row(row[1:], links) for row in rows]
        if len(rows) < CHUNK_ROWS:
            return


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        value = json.dumps(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_text(header: Sequence[str] | None, rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row.values()])
    return buffer.getvalue()


async def events_csv(
    sessionmaker: async_sessionmaker[AsyncSession], project_id: str, window: Window
) -> AsyncIterator[str]:
    """CSV text, chunk by chunk. It opens its own session: a streamed body is sent after
    the request's session has closed."""
    yield _csv_text(EVENT_COLUMNS, [])
    async with sessionmaker() as session:
        async for chunk in _event_chunks(session, project_id, window):
            yield _csv_text(None, chunk)


def _table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pydict(
        {name: [row[name] for row in rows] for name in schema.names}, schema=schema
    )


def _open_writer() -> tuple[str, pq.ParquetWriter]:
    import pyarrow.parquet as pq

    handle, path = tempfile.mkstemp(prefix="prodlens-export-", suffix=".parquet")
    os.close(handle)
    return path, pq.ParquetWriter(path, event_schema(), compression="zstd")


def _write_chunk(writer: pq.ParquetWriter, rows: list[dict[str, Any]]) -> None:
    writer.write_table(_table(event_schema(), rows))


async def events_parquet(session: AsyncSession, project_id: str, window: Window) -> str:
    """Write the window's events to a temporary Parquet file; the caller deletes it."""
    path, writer = await anyio.to_thread.run_sync(_open_writer)
    try:
        async for chunk in _event_chunks(session, project_id, window):
            await anyio.to_thread.run_sync(_write_chunk, writer, chunk)
        await anyio.to_thread.run_sync(writer.close)
    except BaseException:
        writer.close()
        os.unlink(path)
        raise
    return path


async def timeseries_rows(
    session: AsyncSession, project_id: str, window: Window
) -> list[dict[str, Any]]:
    """One row per UTC day of the window, zero-filled, from the daily rollups."""
    sums = await daily_rollup_sums(session, project_id, window, columns=TIMESERIES_COLUMNS)
    days = window.days
    series = {name: daily_series(days, sums, name) for name in TIMESERIES_COLUMNS}
    return [
        {"date": day}
        | {name: counter_value(name, series[name][index]) for name in TIMESERIES_COLUMNS}
        for index, day in enumerate(days)
    ]


def timeseries_csv(rows: list[dict[str, Any]]) -> str:
    return _csv_text(TIMESERIES_HEADER, rows)


def _timeseries_parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(_table(timeseries_schema(), rows), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


async def timeseries_parquet(rows: list[dict[str, Any]]) -> bytes:
    # At most 367 rows: small enough to build in memory, still off the loop.
    return await anyio.to_thread.run_sync(_timeseries_parquet_bytes, rows)
