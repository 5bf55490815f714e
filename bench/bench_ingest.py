"""Ingest throughput: `POST /api/v1/ingest/events` against a raw bulk insert of the same rows.

What it measures
    * ingest    `prodlens serve --workers 1` pinned to core 0 (WARNING logs, rate limits
                off, no demo data), on SQLite and then on PostgreSQL. The benchmark
                process, pinned to core 1, POSTs batches of 1,000 native JSON events
                (bodies serialized beforehand) with an ingest-scoped API key
                (`X-API-Key`) from 4 concurrent httpx connections. Every event must
                be stored; a batch answered 5xx is sent again, counted and reported with
                the exceptions in the server's log (PostgreSQL can deadlock, see
                bench/RESULTS.md). Figures: events/s (wall clock), server CPU per event
                (utime+stime of the server process from /proc/PID/stat), on PostgreSQL
                also the CPU of the backends connected to its database, and the client's
                CPU.
                Each batch is stored in one transaction: the events (INSERT … ON
                CONFLICT DO NOTHING), and the hourly and daily rollups and the llm_sessions
                they touch (upserts) - the figure includes keeping those up to date.
    * baseline  the same rows inserted raw into `events` of a second scratch database
                with the same schema (and a copy of the project row): PostgreSQL
                `COPY` (asyncpg `copy_records_to_table`, same columns, one COPY per
                round, from this process on core 1); SQLite `executemany` in one
                transaction per round (sqlite3, WAL and synchronous=NORMAL as the server
                sets them, in this process's thread pinned to core 0 as the server is).
                Figures: rows/s, and CPU per row (SQLite: the inserting thread; PostgreSQL:
                the COPY backend, and separately this process's encoding).

    Each round ingests fresh events (20,000 by default, 100,000 with BENCH_FULL=1) over
    HTTP and then bulk-inserts the same rows, so both tables grow alike; one warm-up
    round is discarded. Ratios are taken within a round and reported as median (min-max)
    over the rounds: ingest events/s ÷ bulk rows/s, and CPU per event ÷ CPU per row.

    The events: 20 developers, 6 models, 2-hour sessions; each batch holds one hour of
    the team's calls (so it touches up to 120 hourly and 120 daily rollup rows and
    about 20 sessions, some of which continue in the next batch), hours consecutive and
    in the past; latency, tokens, a reported cost, errors and acceptance random
    (bench/_events.py).

Run
    make bench                                       # all benchmarks, small size
    .venv/bin/python bench/bench_ingest.py
    BENCH_FULL=1 .venv/bin/python bench/bench_ingest.py   # 100,000 events/round, 7 rounds

    PostgreSQL: BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
    postgres); scratch databases `bench_ingest_*_<pid>` are created there (`prodlens
    migrate`) and dropped at the end. Without a reachable server only SQLite runs. Needs
    taskset and two CPUs; only 127.0.0.1 traffic. Default: about 1.5 minutes here (ingest
    ran at about 7,000-8,000 events/s); BENCH_FULL=1 several times that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np
from _common import (
    CLIENT_CORE,
    FULL,
    NOISY,
    SERVER_CORE,
    BenchError,
    ServerSpec,
    check_tools,
    cores_busy_seconds,
    cpu_seconds,
    free_port,
    machine_lines,
    migrate,
    on_core,
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
    sqlite_path,
    sqlite_rows,
)

ROUNDS = 7 if FULL else 5
EVENTS_PER_ROUND = 100_000 if FULL else 20_000
BATCH = 1_000
CLIENTS = 4  # concurrent connections (SQLite writers queue on the lock since deec991)
DEVELOPERS = 20
MODELS = 6
SEED = 6
BACKENDS = ("sqlite", "postgresql")


# --- the events ----------------------------------------------------------------------------


def round_block(round_index: int, anchor: datetime, rng: np.random.Generator) -> Block:
    """The events of one round: BATCH per hour, hours consecutive and ending at `anchor`."""
    per_round = EVENTS_PER_ROUND // BATCH
    total_hours = (ROUNDS + 1) * per_round
    first_hour = round_index * per_round
    hour = np.repeat(np.arange(first_hour, first_hour + per_round), BATCH)
    start_us = int((anchor - timedelta(hours=total_hours)).timestamp()) * 1_000_000
    started = start_us + hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, len(hour))
    order = np.lexsort((started, hour))  # batches stay whole hours, in time order
    started = started[order]
    developer = rng.integers(0, DEVELOPERS, len(hour))
    model = rng.integers(0, MODELS, len(hour))
    sessions = [f"s-{d:02d}-{h // 2:05d}" for d, h in zip(developer, hour, strict=True)]
    ids = [f"r{round_index:02d}-{i:07d}" for i in range(len(hour))]
    return make_block(
        rng,
        event_ids=ids,
        developer=developer,
        model=model,
        session_ids=list(sessions),
        started_us=started,
    )


# --- the two sides -------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    events: int
    wall_s: float
    server_s: float  # ingest: the server process; SQLite baseline: the inserting thread
    db_s: float  # PostgreSQL backends (0 on SQLite)
    client_s: float  # this process (ingest: httpx; PostgreSQL baseline: COPY encoding)
    core_other_s: float  # busy time of both cores not accounted to the above
    retried: int = 0  # ingest batches answered 5xx and sent again

    @property
    def rate(self) -> float:
        return self.events / self.wall_s

    def us(self, seconds: float) -> float:
        return seconds / self.events * 1e6

    @property
    def cpu_us(self) -> float:
        """Server-side CPU per event: the server (or inserting thread) and the database."""
        return self.us(self.server_s + self.db_s)

    @property
    def server_busy(self) -> float:
        return self.server_s / self.wall_s

    @property
    def other_share(self) -> float:
        return self.core_other_s / self.wall_s


class Baseline:
    """The raw bulk insert into a second database of the same schema."""

    async def insert(self, block: Block, project_id: str) -> Measured:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PostgresBaseline(Baseline):
    def __init__(self, conn: asyncpg.Connection, admin: asyncpg.Connection, name: str) -> None:
        self.conn, self.admin, self.name = conn, admin, name

    async def insert(self, block: Block, project_id: str) -> Measured:
        records = copy_records(block, project_id, datetime.now(UTC))
        backends = BackendCpu(self.admin, self.name)
        await backends.start()
        cores, client, started = sum(cores_busy_seconds()), time.process_time(), time.monotonic()
        await self.conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
        wall, client = time.monotonic() - started, time.process_time() - client
        db = await backends.stop()
        other = sum(cores_busy_seconds()) - cores - client - db
        return Measured(len(records), wall, 0.0, db, client, max(other, 0.0))

    async def close(self) -> None:
        await self.conn.close()


class SqliteBaseline(Baseline):
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("PRAGMA busy_timeout=5000")

    async def insert(self, block: Block, project_id: str) -> Measured:
        rows = sqlite_rows(block, project_id, datetime.now(UTC))
        with on_core(SERVER_CORE):
            cores, cpu, started = sum(cores_busy_seconds()), time.thread_time(), time.monotonic()
            self.conn.execute("BEGIN")
            self.conn.executemany(SQLITE_INSERT, rows)
            self.conn.execute("COMMIT")
            wall, cpu = time.monotonic() - started, time.thread_time() - cpu
            other = sum(cores_busy_seconds()) - cores - cpu
        return Measured(len(rows), wall, cpu, 0.0, 0.0, max(other, 0.0))

    async def close(self) -> None:
        self.conn.close()


async def ingest_round(
    clients: int,
    port: int,
    pid: int,
    key: str,
    block: Block,
    admin: asyncpg.Connection | None,
    database: str | None,
) -> Measured:
    bodies = json_batches(block, BATCH)
    backends = BackendCpu(admin, database) if admin is not None and database else None
    if backends is not None:
        await backends.start()
    server, cores = cpu_seconds(pid), sum(cores_busy_seconds())
    client, started = time.process_time(), time.monotonic()
    outcome = await ingest_all(port, key, bodies, clients)
    wall, client = time.monotonic() - started, time.process_time() - client
    server = cpu_seconds(pid) - server
    db = await backends.stop() if backends is not None else 0.0
    other = sum(cores_busy_seconds()) - cores - server - client - db
    if outcome.events != len(block):
        raise BenchError(f"{outcome.events} of {len(block)} events stored")
    return Measured(outcome.events, wall, server, db, client, max(other, 0.0), len(outcome.retried))


# --- one backend ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    ingest: Measured
    bulk: Measured

    @property
    def rate_ratio(self) -> float:
        return self.ingest.rate / self.bulk.rate

    @property
    def cpu_ratio(self) -> float:
        return self.ingest.cpu_us / self.bulk.cpu_us


async def copy_project_postgres(source: str, target: asyncpg.Connection) -> str:
    conn = await asyncpg.connect(dsn(source))
    try:
        row = dict(await conn.fetchrow("SELECT * FROM projects"))
    finally:
        await conn.close()
    row["created_by"] = None  # no users in the baseline database
    await target.copy_records_to_table(
        "projects", records=[tuple(row.values())], columns=list(row.keys())
    )
    return str(row["id"])


def copy_project_sqlite(source: Path, target: Path) -> str:
    with contextlib.closing(sqlite3.connect(source)) as conn:
        cursor = conn.execute("SELECT * FROM projects")
        names = [column[0] for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    row["created_by"] = None
    with contextlib.closing(sqlite3.connect(target)) as conn:
        columns, marks = ", ".join(row), ", ".join("?" * len(row))
        insert = f"INSERT INTO projects ({columns}) VALUES ({marks})"  # noqa: S608
        conn.execute(insert, list(row.values()))
        conn.commit()
    return str(row["id"])


@dataclass(frozen=True)
class BackendResult:
    rounds: list[Round]
    errors: list[str]  # exception lines in the server's log


async def run_backend(
    backend: str, workdir: Path, admin: asyncpg.Connection | None, anchor: datetime
) -> BackendResult:
    cwd = workdir / backend
    (cwd / "bulk").mkdir(parents=True)
    names = [f"bench_ingest_http_{os.getpid()}", f"bench_ingest_bulk_{os.getpid()}"]
    postgres = backend == "postgresql"
    if postgres:
        assert admin is not None
        for name in names:
            await create_database(admin, name)
        env = server_env(cwd, database_url(names[0]))
        bulk_env = server_env(cwd / "bulk", database_url(names[1]))
    else:
        env, bulk_env = server_env(cwd, None), server_env(cwd / "bulk", None)
    try:
        migrate(env, cwd)
        migrate(bulk_env, cwd / "bulk")
        port = free_port()
        spec = ServerSpec(backend, prodlens_serve_argv(port), env, cwd, cwd / "server.log")
        with running(spec, port) as pid:
            setup = await provision(port)
            baseline: Baseline
            if postgres:
                assert admin is not None
                conn = await asyncpg.connect(dsn(names[1]))
                await copy_project_postgres(names[0], conn)
                baseline = PostgresBaseline(conn, admin, names[1])
            else:
                copy_project_sqlite(sqlite_path(env), sqlite_path(bulk_env))
                baseline = SqliteBaseline(sqlite_path(bulk_env))
            try:
                rounds = await run_rounds(
                    backend,
                    port,
                    pid,
                    setup.key,
                    setup.project_id,
                    baseline,
                    admin,
                    names[0] if postgres else None,
                    anchor,
                )
            except BenchError as exc:
                raise BenchError(f"{exc}\nserver log: {server_errors(spec.log)}") from None
            finally:
                await baseline.close()
        return BackendResult(rounds, server_errors(spec.log))
    finally:
        if postgres and admin is not None:
            for name in names:
                await drop_database(admin, name)


async def run_rounds(
    backend: str,
    port: int,
    pid: int,
    key: str,
    project_id: str,
    baseline: Baseline,
    admin: asyncpg.Connection | None,
    database: str | None,
    anchor: datetime,
) -> list[Round]:
    rng = np.random.default_rng(SEED)
    rounds: list[Round] = []
    for index in range(ROUNDS + 1):
        block = round_block(index, anchor, rng)
        ingest = await ingest_round(CLIENTS, port, pid, key, block, admin, database)
        bulk = await baseline.insert(block, project_id)
        current = Round(ingest, bulk)
        tag = "warm-up" if index == 0 else f"round {index}/{ROUNDS}"
        print(
            f"  {tag:>11} {backend:10} ingest {ingest.rate:7,.0f}/s {ingest.server_busy:4.0%} "
            f"{ingest.us(ingest.server_s):5.0f} {ingest.us(ingest.db_s):4.0f} "
            f"{ingest.us(ingest.client_s):4.0f} | bulk {bulk.rate:8,.0f}/s "
            f"{bulk.us(bulk.server_s + bulk.db_s):5.1f} {bulk.us(bulk.client_s):4.1f} | "
            f"x{current.rate_ratio:.3f} | {ingest.other_share:4.0%} {bulk.other_share:4.0%}"
            + (f" | {ingest.retried} batch(es) retried after 5xx" if ingest.retried else ""),
            flush=True,
        )
        if index > 0:
            rounds.append(current)
    return rounds


# --- report --------------------------------------------------------------------------------


def spread(values: list[float], digits: int = 3) -> str:
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def median(values: Iterator[float] | list[float]) -> float:
    return float(statistics.median(list(values)))


def report(results: dict[str, BackendResult]) -> None:
    print(
        f"\n{'backend':11} {'ingest ev/s':>11} {'srv busy':>8} {'srv µs/ev':>9} {'PG µs/ev':>8} "
        f"{'cli µs/ev':>9} {'bulk rows/s':>11} {'bulk µs/row':>11} {'enc µs/row':>10}  "
        "ingest/bulk: events/s ratio, CPU ratio median (min-max)"
    )
    print("-" * 140)
    for backend, result in results.items():
        rounds = result.rounds
        ingest = [r.ingest for r in rounds]
        bulk = [r.bulk for r in rounds]
        postgres = backend == "postgresql"
        print(
            f"{backend:11} {median(m.rate for m in ingest):11,.0f} "
            f"{median(m.server_busy for m in ingest):8.0%} "
            f"{median(m.us(m.server_s) for m in ingest):9.0f} "
            f"{median(m.us(m.db_s) for m in ingest) if postgres else 0:8.0f} "
            f"{median(m.us(m.client_s) for m in ingest):9.0f} "
            f"{median(m.rate for m in bulk):11,.0f} "
            f"{median(m.cpu_us for m in bulk):11.1f} "
            f"{median(m.us(m.client_s) for m in bulk):10.1f}  "
            f"{spread([r.rate_ratio for r in rounds])}, {spread([r.cpu_ratio for r in rounds])}"
        )
    print(
        f"(medians over {ROUNDS} rounds of {EVENTS_PER_ROUND:,} events after a warm-up; "
        f"batches of {BATCH:,} from {CLIENTS} connections; ratios within each round. "
        "CPU ratio: (server + PostgreSQL backends) per event ÷ (inserting thread or COPY "
        "backend) per row. bulk µs/row: SQLite inserting thread, PostgreSQL COPY backend; "
        "enc µs/row: asyncpg encoding the COPY in this process.)"
    )
    for backend, result in results.items():
        retried = sum(r.ingest.retried for r in result.rounds)
        if retried or result.errors:
            counts = {line: result.errors.count(line) for line in result.errors}
            print(
                f"SERVER ERRORS ({backend}): {retried} batch(es) answered 5xx in the measured "
                f"rounds and were sent again; exceptions in the server log: {counts}"
            )
    everything = [
        m for result in results.values() for r in result.rounds for m in (r.ingest, r.bulk)
    ]
    others = [m.other_share for m in everything]
    print(
        "noise check: both cores busy with anything but the benchmark (other processes, "
        "PostgreSQL's background writers, steal) / wall time: "
        f"median {statistics.median(others):.0%}, max {max(others):.0%} (of one core)."
    )
    if max(others) > NOISY:
        print("WARNING: another load took over 10% of a core in some run: noisy figures.")


# --- main ----------------------------------------------------------------------------------


async def run(workdir: Path) -> dict[str, BackendResult]:
    backends = list(BACKENDS)
    admin: asyncpg.Connection | None = None
    problem = await postgres_available()
    if problem is not None:
        print(f"  PostgreSQL at {POSTGRES_URL} not reachable ({problem}): SQLite only.")
        backends.remove("postgresql")
    else:
        admin = await asyncpg.connect(dsn())
    anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    results: dict[str, BackendResult] = {}
    try:
        print(
            "  per round: ingest events/s, server busy, server / PG backends / client CPU µs "
            "per event | "
            "bulk rows/s, CPU µs per row (thread or COPY backend) / encoding | "
            "ingest ÷ bulk events/s | other load (both cores, share of one)"
        )
        for backend in backends:
            results[backend] = await run_backend(backend, workdir, admin, anchor)
    finally:
        if admin is not None:
            await admin.close()
    return results


def main() -> None:
    check_tools()
    os.sched_setaffinity(0, {CLIENT_CORE})  # the client; the servers are pinned by taskset
    print("Ingest throughput: POST /api/v1/ingest/events vs a raw bulk insert of the same rows")
    for line in machine_lines():
        print(f"  {line}")
    print(
        f"  size     {'BENCH_FULL' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up of "
        f"{EVENTS_PER_ROUND:,} events, batches of {BATCH:,}, httpx on core {CLIENT_CORE} "
        f"({CLIENTS} connections); "
        f"server on core {SERVER_CORE}"
    )
    print(f"  source   src/ fingerprint {source_fingerprint()} at start")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        try:
            results = asyncio.run(run(Path(tmp)))
        except BenchError as exc:
            sys.exit(f"bench_ingest: {exc}")
    report(results)
    print(f"total time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
