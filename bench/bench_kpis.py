"""KPI endpoint latency does not grow with the number of events (issue 6, "Performance").

What it measures
    `GET /api/v1/projects/{id}/metrics` (every KPI, 30-day window) and
    `GET …/metrics/timeseries?interval=day` (events per day, same window) on two
    databases that differ only in their event count: by default 100,000 and 1,000,000
    events, on PostgreSQL and on SQLite; with BENCH_FULL=1, 1,000,000 and 10,000,000
    events on PostgreSQL. Each database has its own `prodlens serve --workers 1`
    pinned to core 0 (WARNING logs, rate limits off); wrk -t1 -c4 --latency on core 1
    with the project owner's bearer token (not an API key: on SQLite, concurrent
    requests with one API key fail with "database is locked" when they update its
    last_used_at - see bench/RESULTS.md). Per run: p50/p99 latency at 4 connections,
    requests/s, server CPU per request (utime+stime of the server process from
    /proc/PID/stat / requests) and, on PostgreSQL, the CPU of the backends connected
    to the database per request. Every round runs each (backend, endpoint, size) once,
    small then large; one warm-up round is discarded; the ratio large/small of each
    figure is taken within a round and reported as median (min-max).

The data
    Same spread at both sizes: 20 developers, 6 models, 60 days ending at today's
    midnight UTC, 10 working hours a day (08:00-18:00 UTC), 5 sessions per developer
    and day (one per 2 hours: 6,000 sessions). The events are spread evenly over the
    600 working hours, in time order, and each hour's first 120 events cover every
    (developer, model) pair, so both sizes have the same rollup rows (72,000 hourly,
    7,200 daily) and the same sessions: only the number of events behind each differs.
    Latency, tokens, a reported cost, errors (2%) and acceptance are random.

    Events are loaded in bulk, not through HTTP (10M events would take hours here):
    PostgreSQL `COPY` (asyncpg `copy_records_to_table`) or SQLite `executemany`, in
    chunks generated with numpy; then `rollups_hourly`, `rollups_daily` and
    `llm_sessions` are built with one `INSERT … SELECT … GROUP BY` each, the latency
    sketches from a `GROUP BY` of the distinct latencies binned in Python (the bins
    are analytics/sketches.py's), and the database is vacuumed and analyzed. The
    account, project and key are made over HTTP.

    Before loading, a check proves that this reproduces ingest exactly: 5,000 events
    of a smaller spread (with edge latencies, events without latency, developer or
    session) are POSTed in shuffled batches of 1,000 to a fresh server, then the
    events it stored are compared with the generated rows, and the rollups, sketches
    and sessions ingest maintained with the result of the same aggregation run on
    those events. Any difference stops the benchmark (assert).

Run
    make bench                                    # all benchmarks, small size
    .venv/bin/python bench/bench_kpis.py          # 100k vs 1M, PostgreSQL and SQLite
    BENCH_FULL=1 .venv/bin/python bench/bench_kpis.py   # 1M vs 10M, PostgreSQL

    PostgreSQL: BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
    postgres); the scratch databases `bench_kpis_*_<pid>` are created there and dropped
    at the end. Without a reachable server only SQLite runs. Needs wrk, taskset and two
    CPUs; only 127.0.0.1 traffic. Default: about 5 minutes; BENCH_FULL=1: about 8.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import numpy as np
from _common import (
    CLIENT_CORE,
    FULL,
    HOST,
    NOISY,
    BenchError,
    Sample,
    ServerSpec,
    check_tools,
    free_port,
    machine_lines,
    measure_wrk,
    migrate,
    pinned,
    prodlens_serve_argv,
    running,
    source_fingerprint,
)
from _events import (
    EVENT_COLUMNS,
    POSTGRES_URL,
    SQLITE_INSERT,
    BackendCpu,
    Block,
    Provisioned,
    copy_records,
    create_database,
    database_url,
    drop_database,
    dsn,
    ingest_all,
    json_batches,
    make_block,
    postgres_available,
    provision,
    server_env,
    server_errors,
    sign_in,
    sqlite_path,
    sqlite_rows,
)

from prodlens.analytics import sketches
from prodlens.analytics.models import ROLLUP_COUNTERS

SIZES = (1_000_000, 10_000_000) if FULL else (100_000, 1_000_000)
BACKENDS = ("postgresql",) if FULL else ("postgresql", "sqlite")
ROUNDS = 7 if FULL else 5
WRK_S = 5 if FULL else 4
CONNECTIONS = 4
WINDOW_DAYS = 30
CHUNK = 100_000  # events generated and loaded at a time
CHECK_EVENTS = 3_000
BATCH = 1_000
SEED = 6

ENDPOINTS = {
    "metrics": ("/metrics", {}),
    "timeseries": ("/metrics/timeseries", {"interval": "day"}),
}


@dataclass(frozen=True)
class Layout:
    """Who calls which model when: `days` days before `end`, working hours only."""

    developers: int
    models: int
    days: int
    end: datetime  # midnight UTC, exclusive
    first_hour: int = 8
    hours: int = 10
    blocks: int = 5  # sessions per developer and day, each `hours // blocks` hours long

    @property
    def slots(self) -> int:
        return self.days * self.hours

    @property
    def pairs(self) -> int:
        return self.developers * self.models

    def per_slot(self, total: int) -> np.ndarray:
        counts = np.full(self.slots, total // self.slots, dtype=np.int64)
        counts[: total % self.slots] += 1
        if counts.min() < self.pairs:
            raise BenchError(f"{total} events cannot cover {self.pairs} pairs in every hour")
        return counts


def layout_blocks(
    layout: Layout, total: int, rng: np.random.Generator, *, null_share: float = 0.0
) -> Iterator[Block]:
    """`total` events in time order, in blocks of about CHUNK: each working hour gets
    its share, its first events one per (developer, model) pair, the rest at random.
    `null_share` of the events (beyond the pairs) have no developer and no session."""
    counts = layout.per_slot(total)
    start_us = int((layout.end - timedelta(days=layout.days)).timestamp()) * 1_000_000
    sessions = np.array(
        [
            f"s-{d:02d}-{day:03d}-{b}"
            for d in range(layout.developers)
            for day in range(layout.days)
            for b in range(layout.blocks)
        ],
        dtype=object,
    )
    slots_per_chunk = max(1, CHUNK // int(counts[0]))
    first_id = 0
    for first in range(0, layout.slots, slots_per_chunk):
        slots = np.arange(first, min(first + slots_per_chunk, layout.slots))
        n_events = counts[slots]
        slot = np.repeat(slots, n_events)
        position = np.arange(len(slot)) - np.repeat(np.cumsum(n_events) - n_events, n_events)
        pair = np.where(position < layout.pairs, position, rng.integers(0, layout.pairs, len(slot)))
        developer = pair % layout.developers
        model = pair // layout.developers
        day, hour = slot // layout.hours, slot % layout.hours
        started = (
            start_us
            + day * 86_400_000_000
            + (layout.first_hour + hour) * 3_600_000_000
            + rng.integers(0, 3_600_000_000, len(slot))
        )
        order = np.argsort(started, kind="stable")
        developer, model, day, hour, started = (
            developer[order],
            model[order],
            day[order],
            hour[order],
            started[order],
        )
        block_of_day = hour // (layout.hours // layout.blocks)
        session = sessions[(developer * layout.days + day) * layout.blocks + block_of_day]
        anonymous = (rng.random(len(slot)) < null_share) & (position[order] >= layout.pairs)
        developer = np.where(anonymous, -1, developer)
        session[anonymous] = None
        ids = [f"e{first_id + i:010d}" for i in range(len(slot))]
        first_id += len(slot)
        yield make_block(
            rng,
            event_ids=ids,
            developer=developer,
            model=model,
            session_ids=session.tolist(),
            started_us=started,
        )


def events_in_window(layout: Layout, total: int) -> int:
    counts = layout.per_slot(total)
    return int(counts[(layout.days - WINDOW_DAYS) * layout.hours :].sum())


# --- the SQL that rebuilds what ingest maintains -------------------------------------------

ROLLUP_COLUMNS = ("project_id", "period_start", "developer_id", "model", *ROLLUP_COUNTERS)
SESSION_COLUMNS = (
    "project_id",
    "session_id",
    "developer_id",
    "started_at",
    "ended_at",
    "events",
    "errors",
    "accepted",
    "rejected",
    "total_tokens",
    "cost_usd",
    "latency_ms_sum",
)
PERIOD = {
    ("postgresql", "hour"): "date_trunc('hour', started_at, 'UTC')",
    ("postgresql", "day"): "date_trunc('day', started_at, 'UTC')",
    ("sqlite", "hour"): "strftime('%Y-%m-%d %H:00:00.000000', started_at)",
    ("sqlite", "day"): "strftime('%Y-%m-%d 00:00:00.000000', started_at)",
}


def rollup_select(dialect: str, unit: str, placeholder: str) -> str:
    """One row per (project, hour or day, developer or '', model or ''), as ingest folds."""
    columns = [
        "project_id",
        PERIOD[dialect, unit],
        "COALESCE(developer_id, '')",
        "COALESCE(response_model, '')",
        "COUNT(*)",
        "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN accepted IS TRUE THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN accepted IS FALSE THEN 1 ELSE 0 END)",
        "SUM(input_tokens)",
        "SUM(output_tokens)",
        "SUM(cache_read_tokens)",
        "SUM(cache_creation_tokens)",
        "SUM(total_tokens)",
        "SUM(COALESCE(cost_usd, 0))",
        "SUM(COALESCE(lines_suggested, 0))",
        "SUM(COALESCE(lines_accepted, 0))",
        "COUNT(latency_ms)",
        "COALESCE(SUM(latency_ms), 0)",
    ]
    return (
        f"SELECT {', '.join(columns)} FROM events "  # noqa: S608 (constant SQL)
        f"WHERE project_id = {placeholder} GROUP BY 1, 2, 3, 4"
    )


def session_select(placeholder: str) -> str:
    """One row per session. Ingest keeps the first non-null developer; every session
    here has one developer, so MIN picks it."""
    columns = [
        "project_id",
        "session_id",
        "MIN(developer_id)",
        "MIN(started_at)",
        "MAX(COALESCE(ended_at, started_at))",
        "COUNT(*)",
        "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN accepted IS TRUE THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN accepted IS FALSE THEN 1 ELSE 0 END)",
        "SUM(total_tokens)",
        "SUM(COALESCE(cost_usd, 0))",
        "SUM(COALESCE(latency_ms, 0))",
    ]
    return (
        f"SELECT {', '.join(columns)} FROM events "  # noqa: S608 (constant SQL)
        f"WHERE project_id = {placeholder} AND session_id IS NOT NULL AND session_id <> '' "
        "GROUP BY project_id, session_id"
    )


SKETCH_TABLES = {"hour": "latency_sketches_hourly", "day": "latency_sketches_daily"}
SKETCH_COLUMNS = "project_id, period_start, developer_id, model, kind, bin, count"


def _distinct_values(dialect: str, unit: str, placeholder: str) -> str:
    """Calls per (rollup key, latency, ttft): far fewer rows than events to bin."""
    return (
        f"SELECT project_id, {PERIOD[dialect, unit]}, COALESCE(developer_id, ''), "  # noqa: S608
        "COALESCE(response_model, ''), latency_ms, ttft_ms, COUNT(*) FROM events "
        f"WHERE project_id = {placeholder} GROUP BY 1, 2, 3, 4, 5, 6"
    )


async def sketch_rows(store: Store, unit: str, project_id: str) -> list[tuple[Any, ...]]:
    """The rows of a sketch table, as ingest folds them (analytics.sketches bins)."""
    mark = "$1" if store.dialect == "postgresql" else "?"
    counts: Counter[tuple[Any, ...]] = Counter()
    for *key, latency_ms, ttft_ms, calls in await store.fetch(
        _distinct_values(store.dialect, unit, mark), project_id
    ):
        for kind, value in (("latency", latency_ms), ("ttft", ttft_ms)):
            if value is not None:
                counts[(*key, kind, sketches.bin_of(value))] += calls
    return [(*key, count) for key, count in sorted(counts.items())]


def derived_statements(dialect: str) -> list[tuple[str, str, str]]:
    """(table, its columns, the SELECT that fills them) for the rollups and sessions."""
    mark = "$1" if dialect == "postgresql" else "?"
    return [
        ("rollups_hourly", ", ".join(ROLLUP_COLUMNS), rollup_select(dialect, "hour", mark)),
        ("rollups_daily", ", ".join(ROLLUP_COLUMNS), rollup_select(dialect, "day", mark)),
        ("llm_sessions", ", ".join(SESSION_COLUMNS), session_select(mark)),
    ]


# --- a database per backend ----------------------------------------------------------------


class Store:
    """One scratch database: bulk load, aggregation, and reading rows back."""

    dialect: str

    def records(self, block: Block, project_id: str, ingested_at: datetime) -> list[Any]:
        raise NotImplementedError

    async def load(self, records: list[Any]) -> None:
        raise NotImplementedError

    async def drop_indexes(self) -> list[str]:
        """Drop the secondary indexes of `events` (not those behind constraints); their
        definitions, to recreate after a bulk load: the same end state, built faster."""
        raise NotImplementedError

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def execute(self, sql: str, *args: Any) -> None:
        raise NotImplementedError

    async def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def finish(self) -> None:
        """Vacuum and analyze after a load."""
        raise NotImplementedError

    async def size_bytes(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    def records(self, block: Block, project_id: str, ingested_at: datetime) -> list[Any]:
        return copy_records(block, project_id, ingested_at)

    async def load(self, records: list[Any]) -> None:
        await self.conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)

    async def drop_indexes(self) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = 'events'::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        )
        for name, _definition in rows:
            await self.conn.execute(f'DROP INDEX "{name}"')
        await self.conn.execute("SET maintenance_work_mem = '256MB'")
        return [definition for _name, definition in rows]

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self.conn.fetch(sql, *args)]

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(sql, *args)

    async def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self.conn.executemany(sql, rows)

    async def finish(self) -> None:
        await self.conn.execute("VACUUM ANALYZE")

    async def size_bytes(self) -> int:
        return int(await self.conn.fetchval("SELECT pg_database_size(current_database())"))

    async def close(self) -> None:
        await self.conn.close()


class SqliteStore(Store):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout=30000")

    def records(self, block: Block, project_id: str, ingested_at: datetime) -> list[Any]:
        return sqlite_rows(block, project_id, ingested_at)

    async def load(self, records: list[Any]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(SQLITE_INSERT, records)
        self.conn.execute("COMMIT")

    async def drop_indexes(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
        ).fetchall()
        for name, _definition in rows:
            self.conn.execute(f'DROP INDEX "{name}"')
        return [definition for _name, definition in rows]

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    async def execute(self, sql: str, *args: Any) -> None:
        self.conn.execute(sql, args)

    async def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(sql, rows)
        self.conn.execute("COMMIT")

    async def finish(self) -> None:
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def size_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()
        )

    async def close(self) -> None:
        self.conn.close()


async def bulk_load(
    store: Store, blocks: Iterator[Block], project_id: str, ingested_at: datetime
) -> None:
    """Load the blocks; the next one is generated in a thread while the database
    takes the current one."""

    def prepare() -> list[Any] | None:
        block = next(blocks, None)
        return None if block is None else store.records(block, project_id, ingested_at)

    pending = asyncio.create_task(asyncio.to_thread(prepare))
    while (records := await pending) is not None:
        pending = asyncio.create_task(asyncio.to_thread(prepare))
        await store.load(records)


async def build_derived(store: Store, project_id: str) -> None:
    for table, columns, select in derived_statements(store.dialect):
        await store.execute(f"INSERT INTO {table} ({columns}) {select}", project_id)
    marks = ", ".join(f"${i}" if store.dialect == "postgresql" else "?" for i in range(1, 8))
    for unit, table in SKETCH_TABLES.items():
        rows = await sketch_rows(store, unit, project_id)
        insert = f"INSERT INTO {table} ({SKETCH_COLUMNS}) VALUES ({marks})"  # noqa: S608
        await store.execute_many(insert, rows)


# --- the check: the bulk path equals ingest -------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, int | str | bool | datetime) or a is None or b is None:
        return bool(a == b)
    x, y = float(a), float(b)
    return abs(x - y) <= 1e-7 * max(1.0, abs(x), abs(y))


def _compare(label: str, got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    """Rows keyed by their leading columns (after project_id); all values must agree."""
    got_by = {row[1:4]: row for row in got}
    want_by = {row[1:4]: row for row in want}
    assert got_by.keys() == want_by.keys(), (
        f"{label}: keys differ: {len(got_by.keys() - want_by.keys())} only in ingest, "
        f"{len(want_by.keys() - got_by.keys())} only in the SQL"
    )
    for key, row in got_by.items():
        other = want_by[key]
        bad = [i for i, (a, b) in enumerate(zip(row, other, strict=True)) if not _close(a, b)]
        assert not bad, f"{label} {key}: column(s) {bad} differ: ingest {row} vs SQL {other}"


async def check_equivalence(backend: str, workdir: Path, admin: asyncpg.Connection | None) -> str:
    """Ingest a sample over HTTP; assert the bulk rows and the aggregation SQL match it."""
    layout = Layout(developers=4, models=3, days=3, end=today())
    rng = np.random.default_rng(SEED)
    block = merge(list(layout_blocks(layout, CHECK_EVENTS, rng, null_share=0.03)))
    # The low bin and its edge, bin edges, and the largest latency ingest accepts.
    edges = (0.0, 0.5, 1.0, sketches.bin_value(100) * 1.0101, 60_000.0, 86_399_999.0)
    for i, edge in enumerate(edges):
        set_latency(block, 2 * i, edge)
        set_latency(block, 2 * i + 1, edge + 1)
    order = rng.permutation(len(block))
    shuffled = subset(block, order.tolist())
    name = f"bench_kpis_check_{os.getpid()}"
    cwd = workdir / f"check-{backend}"
    cwd.mkdir()
    store: Store
    if backend == "postgresql":
        assert admin is not None
        await create_database(admin, name)
        env = server_env(cwd, database_url(name))
    else:
        env = server_env(cwd, None)
    try:
        migrate(env, cwd)
        port = free_port()
        spec = ServerSpec(f"check-{backend}", prodlens_serve_argv(port), env, cwd, cwd / "log")
        with running(spec, port):
            setup = await provision(port)
            bodies = json_batches(shuffled, BATCH)
            outcome = await ingest_all(port, setup.key, bodies, 2)
        assert outcome.events == len(block), f"{outcome.events} of {len(block)} stored"
        if outcome.retried:
            errors = sorted(set(server_errors(spec.log)))
            print(f"    WARNING: {len(outcome.retried)} batch(es) answered 5xx, retried: {errors}")
        store = (
            PostgresStore(await asyncpg.connect(dsn(name)))
            if backend == "postgresql"
            else SqliteStore(sqlite_path(env))
        )
        try:
            await _check_store(store, block, setup)
        finally:
            await store.close()
    finally:
        if backend == "postgresql" and admin is not None:
            await drop_database(admin, name)
    return (
        f"{backend}: {len(block):,} events ingested over HTTP in shuffled batches of {BATCH:,}"
        " = generated rows; rollups_hourly, rollups_daily, llm_sessions = aggregation SQL;"
        " latency sketches = the binned distinct latencies"
    )


async def _check_store(store: Store, block: Block, setup: Provisioned) -> None:
    placeholder = "$1" if store.dialect == "postgresql" else "?"
    names = [c for c in EVENT_COLUMNS if c != "ingested_at"]
    stored = await store.fetch(
        f"SELECT {', '.join(names)} FROM events WHERE project_id = {placeholder}",  # noqa: S608
        setup.project_id,
    )
    now = datetime.now(UTC)
    generated = (
        copy_records(block, setup.project_id, now)
        if store.dialect == "postgresql"
        else sqlite_rows(block, setup.project_id, now)
    )
    generated = [row[:-1] for row in generated]  # without ingested_at
    assert len(stored) == len(generated), f"{len(stored)} events stored, {len(generated)} sent"
    by_id = {row[1]: row for row in stored}
    for row in generated:
        got = by_id[row[1]]
        bad = [names[i] for i, (a, b) in enumerate(zip(got, row, strict=True)) if not _close(a, b)]
        assert not bad, f"event {row[1]}: {bad} differ: stored {got} vs generated {row}"
    for table, columns, select in derived_statements(store.dialect):
        maintained = await store.fetch(
            f"SELECT {columns} FROM {table} WHERE project_id = {placeholder}",  # noqa: S608
            setup.project_id,
        )
        rebuilt = await store.fetch(select, setup.project_id)
        assert maintained, f"{table}: ingest stored nothing"
        _compare(table, maintained, rebuilt)
    for unit, table in SKETCH_TABLES.items():
        maintained = await store.fetch(
            f"SELECT {SKETCH_COLUMNS} FROM {table} WHERE project_id = {placeholder}",  # noqa: S608
            setup.project_id,
        )
        rebuilt = await sketch_rows(store, unit, setup.project_id)
        assert maintained, f"{table}: ingest stored nothing"
        assert sorted(maintained) == rebuilt, f"{table}: ingest and the binned SQL differ"


def merge(blocks: list[Block]) -> Block:
    fields = Block.__dataclass_fields__
    return Block(**{name: [v for b in blocks for v in getattr(b, name)] for name in fields})


def subset(block: Block, indices: list[int]) -> Block:
    fields = Block.__dataclass_fields__
    return Block(**{name: [getattr(block, name)[i] for i in indices] for name in fields})


def set_latency(block: Block, i: int, ms: float) -> None:
    block.latency_ms[i] = float(ms)
    block.ttft_ms[i] = float(ms // 4)
    block.ended_at[i] = block.started_at[i] + timedelta(milliseconds=ms)


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# --- loading a size ------------------------------------------------------------------------


@dataclass
class Target:
    """A loaded database and its running server."""

    backend: str
    size: int
    port: int
    pid: int
    setup: Provisioned
    database: str | None  # the PostgreSQL database, None on SQLite
    log: Path | None = None  # the server's output
    token: str = ""  # a bearer token of the project's owner, taken just before measuring
    rows: dict[str, int] = field(default_factory=dict)
    load_s: float = 0.0
    derive_s: float = 0.0
    size_bytes: int = 0

    def url(self, endpoint: str, window: tuple[str, str]) -> str:
        path, extra = ENDPOINTS[endpoint]
        query = urlencode({"since": window[0], "until": window[1], **extra})
        return f"http://{HOST}:{self.port}/api/v1/projects/{self.setup.project_id}{path}?{query}"


async def load_target(
    backend: str,
    size: int,
    workdir: Path,
    stack: contextlib.ExitStack,
    admin: asyncpg.Connection | None,
    names: list[str],
) -> Target:
    cwd = workdir / f"{backend}-{size}"
    cwd.mkdir()
    name: str | None = None
    if backend == "postgresql":
        assert admin is not None
        name = f"bench_kpis_{size}_{os.getpid()}"
        names.append(name)
        await create_database(admin, name)
        env = server_env(cwd, database_url(name))
    else:
        env = server_env(cwd, None)
    migrate(env, cwd)
    port = free_port()
    spec = ServerSpec(f"{backend}-{size}", prodlens_serve_argv(port), env, cwd, cwd / "log")
    pid = stack.enter_context(running(spec, port))
    setup = await provision(port)
    target = Target(backend, size, port, pid, setup, name, spec.log)
    store: Store = (
        PostgresStore(await asyncpg.connect(dsn(name)))
        if name is not None
        else SqliteStore(sqlite_path(env))
    )
    try:
        layout = data_layout()
        rng = np.random.default_rng(SEED + size)
        ingested_at = datetime.now(UTC)
        started = time.monotonic()
        indexes = await store.drop_indexes()
        await bulk_load(store, layout_blocks(layout, size, rng), setup.project_id, ingested_at)
        for definition in indexes:
            await store.execute(definition)
        target.load_s = time.monotonic() - started
        started = time.monotonic()
        await build_derived(store, setup.project_id)
        await store.finish()
        target.derive_s = time.monotonic() - started
        for table in ("events", "rollups_hourly", "rollups_daily", "llm_sessions"):
            count = await store.fetch(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            target.rows[table] = int(count[0][0])
        target.size_bytes = await store.size_bytes()
    finally:
        await store.close()
    print(
        f"  {backend:10} {size:>11,} events: loaded in {target.load_s:5.1f} s "
        f"({size / target.load_s:,.0f} rows/s), rollups and sessions in "
        f"{target.derive_s:5.1f} s; {target.rows['rollups_hourly']:,} hourly, "
        f"{target.rows['rollups_daily']:,} daily rollups, {target.rows['llm_sessions']:,} "
        f"sessions; database {target.size_bytes / 2**20:,.0f} MiB",
        flush=True,
    )
    return target


@functools.cache
def data_layout() -> Layout:
    """The spread of the measured databases (fixed once per run)."""
    return Layout(developers=20, models=6, days=60, end=today())


def window() -> tuple[str, str]:
    until = data_layout().end
    since = until - timedelta(days=WINDOW_DAYS)
    return since.strftime("%Y-%m-%dT%H:%M:%S"), until.strftime("%Y-%m-%dT%H:%M:%S")


async def check_answers(target: Target) -> None:
    """Both endpoints answer 200 and count every event of the window."""
    expected = events_in_window(data_layout(), target.size)
    headers = {"Authorization": f"Bearer {target.token}"}
    async with httpx.AsyncClient(timeout=60) as client:
        for endpoint in ENDPOINTS:
            response = await client.get(target.url(endpoint, window()), headers=headers)
            if response.status_code != 200:
                raise BenchError(f"{endpoint} answered {response.status_code}: {response.text}")
            body = response.json()
            if endpoint == "metrics":
                counted = next(k for k in body["kpis"] if k["name"] == "error_rate")
                events = counted["sample_size"]
            else:
                events = sum(point["value"] for point in body["points"])
            if events != expected:
                raise BenchError(
                    f"{target.backend} {target.size:,}: {endpoint} counts {events} events "
                    f"in the window, expected {expected}"
                )


# --- measuring -----------------------------------------------------------------------------


def wrk_command(target: Target, endpoint: str) -> list[str]:
    wrk = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{WRK_S}s", "--latency"]
    wrk += ["-H", f"Authorization: Bearer {target.token}", target.url(endpoint, window())]
    return pinned(wrk, CLIENT_CORE)


@dataclass(frozen=True)
class Run:
    sample: Sample
    db_us: float | None  # PostgreSQL backends' CPU per request (None on SQLite)

    @property
    def total_us(self) -> float:
        return self.sample.cpu_us_per_request + (self.db_us or 0.0)


Results = dict[tuple[str, str, int], list[Run]]


async def measure(targets: list[Target], admin: asyncpg.Connection | None) -> Results:
    results: Results = {}
    by_key = {(t.backend, t.size): t for t in targets}
    backends = sorted({t.backend for t in targets}, key=BACKENDS.index)
    print(
        "\n  per run: p50 ms / server CPU µs per request [/ PostgreSQL backends' µs] "
        "(other load on core 0 / core 1), for "
        + ", ".join(f"{e} {s:,}" for e in ENDPOINTS for s in SIZES)
    )
    for round_index in range(ROUNDS + 1):
        tag = "warm-up" if round_index == 0 else f"round {round_index}/{ROUNDS}"
        for backend in backends:
            parts = []
            for endpoint in ENDPOINTS:
                for size in SIZES:
                    target = by_key[backend, size]
                    run = await measure_one(target, endpoint, admin)
                    if round_index > 0:
                        results.setdefault((backend, endpoint, size), []).append(run)
                    sample = run.sample
                    db = f"/{run.db_us:5.0f}" if run.db_us is not None else ""
                    parts.append(
                        f"{sample.p50_ms:5.1f}/{sample.cpu_us_per_request:5.0f}{db}"
                        f" ({sample.server_core_other:3.0%}/{sample.client_core_other:3.0%})"
                    )
            print(f"  {tag:>11} {backend:10} " + "  ".join(parts), flush=True)
    return results


async def measure_one(target: Target, endpoint: str, admin: asyncpg.Connection | None) -> Run:
    label = f"{target.backend} {endpoint} {target.size:,}"
    backends = (
        BackendCpu(admin, target.database)
        if target.database is not None and admin is not None
        else None
    )
    if backends is not None:
        await backends.start()
    try:
        sample = measure_wrk(label, target.pid, wrk_command(target, endpoint), WRK_S)
    except BenchError as exc:
        raise BenchError(f"{exc}\n{server_state(target)}") from None
    if backends is None:
        return Run(sample, None)
    return Run(sample, await backends.stop() / sample.requests * 1e6)


def server_state(target: Target) -> str:
    """Whether the server still runs (and how it ended if not), and its log's last lines."""
    try:
        ended = os.waitid(os.P_PID, target.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        ended = None
    if ended is None:
        state = "still running"
    elif ended.si_code == os.CLD_EXITED:
        state = f"exited with status {ended.si_status}"
    else:
        state = f"killed by signal {ended.si_status}"
    tail = ""
    if target.log is not None and target.log.exists():
        tail = "\n".join(target.log.read_text(errors="replace").splitlines()[-30:])
    return f"server {target.backend} {target.size:,} (pid {target.pid}): {state}; log tail:\n{tail}"


def ratios(results: Results, key: tuple[str, str], value: Callable[[Run], float]) -> str:
    small = results[(*key, SIZES[0])]
    large = results[(*key, SIZES[1])]
    values = [value(b) / value(a) for a, b in zip(small, large, strict=True)]
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def median_run(runs: list[Run], value: Callable[[Run], float]) -> float:
    return float(statistics.median(value(run) for run in runs))


def size_label(size: int) -> str:
    return f"{size / 1e6:g}M" if size >= 1_000_000 else f"{size // 1000}k"


def report(results: Results, targets: list[Target]) -> None:
    print(
        f"\n{'backend endpoint':22} {'events':>6} {'p50 ms':>7} {'p99 ms':>7} {'req/s':>6} "
        f"{'srv µs':>7} {'PG µs':>7}   large/small median (min-max): server CPU/req, "
        "server+PG CPU/req, p50, p99"
    )
    print("-" * 150)
    figures: dict[str, Callable[[Run], float]] = {
        "server": lambda r: r.sample.cpu_us_per_request,
        "total": lambda r: r.total_us,
        "p50": lambda r: r.sample.p50_ms,
        "p99": lambda r: r.sample.p99_ms,
    }
    for backend in sorted({t.backend for t in targets}, key=BACKENDS.index):
        for endpoint in ENDPOINTS:
            for size in SIZES:
                runs = results[backend, endpoint, size]
                db = (
                    f"{median_run(runs, lambda r: r.db_us or 0.0):7.0f}"
                    if runs[0].db_us is not None
                    else f"{'-':>7}"
                )
                line = (
                    f"{backend + ' ' + endpoint:22} {size_label(size):>6} "
                    f"{median_run(runs, figures['p50']):7.1f} "
                    f"{median_run(runs, figures['p99']):7.1f} "
                    f"{median_run(runs, lambda r: r.sample.requests_per_s):6.1f} "
                    f"{median_run(runs, figures['server']):7.0f} {db}"
                )
                if size == SIZES[1]:
                    line += "   " + ", ".join(
                        ratios(results, (backend, endpoint), value) for value in figures.values()
                    )
                print(line)
    print(
        f"(medians over {ROUNDS} rounds after a warm-up; ratios taken within each round; "
        f"wrk -t1 -c{CONNECTIONS} -d{WRK_S}s on core {CLIENT_CORE}; window {WINDOW_DAYS} days; "
        "timeseries metric=events interval=day; PG µs: CPU of the PostgreSQL backends "
        "connected to the database, per request)"
    )
    everything = [run.sample for runs in results.values() for run in runs]
    client = max(s.client_busy for s in everything)
    busy = statistics.median(s.server_busy for s in everything)
    print(
        f"client check: wrk used at most {client:.0%} of core {CLIENT_CORE}; the server core "
        f"was {busy:.0%} busy with the server (median)."
    )
    for core, name in ((0, "server_core_other"), (1, "client_core_other")):
        values = [getattr(s, name) for s in everything]
        print(
            f"noise check: core {core} busy with anything but the benchmark (PostgreSQL "
            f"included): median {statistics.median(values):.0%}, max {max(values):.0%}."
        )
    if max(max(s.server_core_other, s.client_core_other) for s in everything) > NOISY:
        print("WARNING: another load took over 10% of a core in some run: noisy figures.")


# --- main ----------------------------------------------------------------------------------


async def run(workdir: Path) -> None:
    backends = list(BACKENDS)
    admin: asyncpg.Connection | None = None
    if "postgresql" in backends:
        problem = await postgres_available()
        if problem is not None:
            print(f"  PostgreSQL at {POSTGRES_URL} not reachable ({problem}): SQLite only.")
            backends.remove("postgresql")
        else:
            admin = await asyncpg.connect(dsn())
    if not backends:
        raise BenchError("no backend to measure")
    names: list[str] = []
    try:
        print("  check: the bulk load reproduces ingest", flush=True)
        for backend in backends:
            print(f"    {await check_equivalence(backend, workdir, admin)}", flush=True)
        with contextlib.ExitStack() as stack:
            print(f"  loading (layout: {describe(data_layout())})", flush=True)
            targets = []
            for backend in backends:
                for size in SIZES:
                    targets.append(await load_target(backend, size, workdir, stack, admin, names))
            for target in targets:  # tokens last 30 minutes: a long load must not outlive them
                target.token = await sign_in(target.port)
                await check_answers(target)
            print(f"  source   src/ fingerprint {source_fingerprint()} when the servers started")
            print(f"  window   since={window()[0]} until={window()[1]} (UTC)")
            results = await measure(targets, admin)
            report(results, targets)
            print(
                "rows: "
                + "; ".join(
                    f"{t.backend} {t.size:,}: " + ", ".join(f"{k} {v:,}" for k, v in t.rows.items())
                    for t in targets
                )
            )
    finally:
        if admin is not None:
            for name in names:
                await drop_database(admin, name)
            await admin.close()


def describe(layout: Layout) -> str:
    return (
        f"{layout.developers} developers, {layout.models} models, {layout.days} days to "
        f"{layout.end:%Y-%m-%d}, {layout.hours} h/day, {layout.blocks} sessions/developer/day"
    )


def main() -> None:
    check_tools()
    print("KPI endpoints vs event count: GET …/metrics and …/metrics/timeseries")
    for line in machine_lines():
        print(f"  {line}")
    sizes = " vs ".join(f"{s:,}" for s in SIZES)
    print(
        f"  size     {'BENCH_FULL' if FULL else 'default'}: {sizes} events; "
        f"{'+'.join(BACKENDS)}; {ROUNDS} rounds + 1 warm-up, wrk -t1 -c{CONNECTIONS} "
        f"-d{WRK_S}s on core {CLIENT_CORE}; servers on core 0"
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_kpis_") as tmp:
        try:
            asyncio.run(run(Path(tmp)))
        except BenchError as exc:
            sys.exit(f"bench_kpis: {exc}")
    print(f"total time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
