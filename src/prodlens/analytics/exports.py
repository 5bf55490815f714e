"""Exports of events and daily series as CSV or Parquet.

Memory stays flat however large the window: events are read in chunks by
keyset over `id` (never OFFSET, never all at once). CSV chunks are streamed as
they are read; Parquet is written chunk by chunk as row groups to a temporary
file in a worker thread (pyarrow is CPU-bound) and then sent from disk.
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
from functools import partial
from typing import Any, Literal

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prodlens.analytics.models import Event
from prodlens.analytics.window import Window, daily_rollup_sums, daily_series

ExportFormat = Literal["csv", "parquet"]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
CHUNK_ROWS = 5000

_UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
_EVENT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("event_id", pa.string()),
    ("session_id", pa.string()),
    ("developer_id", pa.string()),
    ("started_at", _UTC_TIMESTAMP),
    ("ended_at", _UTC_TIMESTAMP),
    ("latency_ms", pa.float64()),
    ("ttft_ms", pa.float64()),
    ("provider", pa.string()),
    ("operation", pa.string()),
    ("request_model", pa.string()),
    ("response_model", pa.string()),
    ("input_tokens", pa.int64()),
    ("output_tokens", pa.int64()),
    ("cache_read_tokens", pa.int64()),
    ("cache_creation_tokens", pa.int64()),
    ("total_tokens", pa.int64()),
    ("cost_usd", pa.float64()),
    ("cost_source", pa.string()),
    ("status", pa.string()),
    ("http_status", pa.int32()),
    ("error_type", pa.string()),
    ("finish_reason", pa.string()),
    ("accepted", pa.bool_()),
    ("lines_suggested", pa.int32()),
    ("lines_accepted", pa.int32()),
    ("repo", pa.string()),
    ("tags", pa.list_(pa.string())),
    ("attributes", pa.string()),  # JSON text: free-form keys do not fit one schema
    ("source", pa.string()),
    ("ingested_at", _UTC_TIMESTAMP),
]
EVENT_SCHEMA = pa.schema(_EVENT_FIELDS)
EVENT_COLUMNS = tuple(EVENT_SCHEMA.names)

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
TIMESERIES_SCHEMA = pa.schema(
    [("date", pa.date32())]
    + [(name, pa.float64() if name == "cost_usd" else pa.int64()) for name in TIMESERIES_COLUMNS]
)

# A cell starting with one of these is a formula to a spreadsheet (CSV injection);
# ingested strings (developer ids, repos, error types) are not ours to trust.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def filename(slug: str, what: str, window: Window, export_format: ExportFormat) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", slug).strip("-") or "project"
    return f"prodlens-{safe}-{what}-{window.first_day}-{window.last_day}.{export_format}"


def _event_row(row: Sequence[Any]) -> dict[str, Any]:
    values = dict(zip(EVENT_COLUMNS, row, strict=True))
    if isinstance(values["cost_usd"], Decimal):
        values["cost_usd"] = float(values["cost_usd"])
    values["tags"] = list(values["tags"] or [])
    values["attributes"] = json.dumps(values["attributes"] or {}, sort_keys=True)
    return values


async def _event_chunks(
    session: AsyncSession, project_id: str, window: Window
) -> AsyncIterator[list[dict[str, Any]]]:
    table = Event.__table__
    columns = [table.c[name] for name in EVENT_COLUMNS]
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
        yield [_event_row(row[1:]) for row in rows]
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


def _open_writer(schema: pa.Schema) -> tuple[str, pq.ParquetWriter]:
    handle, path = tempfile.mkstemp(prefix="prodlens-export-", suffix=".parquet")
    os.close(handle)
    return path, pq.ParquetWriter(path, schema, compression="zstd")


def _write_chunk(writer: pq.ParquetWriter, schema: pa.Schema, rows: list[dict[str, Any]]) -> None:
    columns = {name: [row[name] for row in rows] for name in schema.names}
    writer.write_table(pa.Table.from_pydict(columns, schema=schema))


async def events_parquet(session: AsyncSession, project_id: str, window: Window) -> str:
    """Write the window's events to a temporary Parquet file; the caller deletes it."""
    path, writer = await anyio.to_thread.run_sync(_open_writer, EVENT_SCHEMA)
    try:
        async for chunk in _event_chunks(session, project_id, window):
            await anyio.to_thread.run_sync(_write_chunk, writer, EVENT_SCHEMA, chunk)
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
        | {
            name: series[name][index] if name == "cost_usd" else int(series[name][index])
            for name in TIMESERIES_COLUMNS
        }
        for index, day in enumerate(days)
    ]


def timeseries_csv(rows: list[dict[str, Any]]) -> str:
    return _csv_text(TIMESERIES_SCHEMA.names, rows)


def _parquet_bytes(schema: pa.Schema, rows: list[dict[str, Any]]) -> bytes:
    table = pa.Table.from_pydict(
        {name: [row[name] for row in rows] for name in schema.names}, schema=schema
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


async def timeseries_parquet(rows: list[dict[str, Any]]) -> bytes:
    # At most 367 rows: small enough to build in memory, still off the loop.
    return await anyio.to_thread.run_sync(partial(_parquet_bytes, TIMESERIES_SCHEMA, rows))
