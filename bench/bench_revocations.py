"""Revocation check cost: the store as a cache of the database, hit and miss, against the old check.

What it measures
    The per-request "is this session still open (and the subject's own)?" check of
    `auth/revocations.py`, called directly (no HTTP), on the real store and database:

    * baseline  `store.exists("revoked:<sid>")`: the check as it was before the
                database fallback (one store read, absent for an open session);
    * hit       `Revocations.is_open_for(sid, user)` for a session whose entry is
                cached: the fast path every request takes (one store read);
    * miss      `Revocations.is_open_for` for a session never seen (the first request
                of a session, or any after Redis restarted empty): one store read,
                one primary-key query of `auth_sessions`, one SET NX.

    Figures per variant: wall time per call (median of the calls) and this process's
    CPU per call (process_time over the calls / calls: the Python side of the
    drivers; PostgreSQL's and Redis's own CPU is not in it), and the ratios
    hit/baseline and miss/baseline, taken within a round, as median (min-max).

    Backends: PostgreSQL + Redis (a throwaway database and key prefix, removed at
    the end) when they answer on 127.0.0.1, and SQLite + memory always.

How
    This process pinned to core 1 (PostgreSQL and redis-server are not ours and run
    where the OS puts them). One warm-up round is discarded; each round runs baseline,
    hit, miss (a b c a b c ...), N calls each. Sessions for the miss variant are
    inserted beforehand, a fresh one per call. See /work/shared/BENCH.md.

Run
    .venv/bin/python bench/bench_revocations.py
    BENCH_FULL=1 .venv/bin/python bench/bench_revocations.py   # 10 rounds, 5,000 calls

    Default size takes under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import redis
from _common import CLIENT_CORE, FULL, machine_lines, ratio_text
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from prodlens.auth.models import AuthSession, User
from prodlens.auth.revocations import Revocations
from prodlens.config import Settings
from prodlens.kit.db import Database
from prodlens.kit.ids import new_id
from prodlens.kit.migrations import upgrade
from prodlens.kit.state import StateStore, state_store_from_settings

ROUNDS = 10 if FULL else 5
CALLS = 5000 if FULL else 1000
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
VARIANTS = ("baseline", "hit", "miss")


@dataclass(frozen=True)
class Run:
    wall_us: float  # median per call
    cpu_us: float  # process CPU per call


def available_services() -> bool:
    with contextlib.suppress(redis.RedisError, OSError):
        with redis.Redis.from_url(REDIS_URL, socket_timeout=2) as client:
            client.ping()

        async def ping() -> None:
            connection = await asyncpg.connect(
                make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False),
                timeout=5,
            )
            await connection.close()

        asyncio.run(ping())
        return True
    return False


async def pg_admin(statement: str) -> None:
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def seed(database: Database, sessions: int) -> tuple[str, list[str]]:
    """One user and `sessions` open sessions of theirs; the user id and the session ids."""
    now = datetime.now(UTC)
    user_id = new_id()
    ids = [new_id() for _ in range(sessions)]
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            insert(User).values(
                id=user_id,
                email="bench@example.com",
                email_key="bench@example.com",
                username="bench",
                username_key="bench",
                display_name="Bench",
                password_hash="-",  # noqa: S106 (no one signs in)
                created_at=now,
                updated_at=now,
                password_changed_at=now,
            )
        )
        rows = [
            {
                "id": sid,
                "user_id": user_id,
                "created_at": now,
                "last_used_at": now,
                "expires_at": now + timedelta(days=1),
            }
            for sid in ids
        ]
        for start in range(0, len(rows), 1000):
            await session.execute(insert(AuthSession), rows[start : start + 1000])
    return user_id, ids


async def timed(calls: int, one: Callable[[int], Awaitable[object]]) -> Run:
    walls = []
    cpu_before = time.process_time()
    for i in range(calls):
        started = time.perf_counter()
        await one(i)
        walls.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu_before
    return Run(statistics.median(walls) * 1e6, cpu / calls * 1e6)


async def bench_backend(name: str, settings: Settings) -> dict[str, list[Run]]:
    database = Database(settings)
    store: StateStore = state_store_from_settings(settings)
    revocations = Revocations(store, database.sessionmaker, access_token_seconds=1800)
    results: dict[str, list[Run]] = {variant: [] for variant in VARIANTS}
    try:
        user_id, fresh = await seed(database, CALLS * (ROUNDS + 1) + 1)
        hot = fresh.pop()
        assert await revocations.is_open_for(hot, user_id)
        absent = [f"revoked:{sid}" for sid in fresh[:CALLS]]  # never written: as before
        variants: dict[str, Callable[[int], Awaitable[object]]] = {
            "baseline": lambda i: store.exists(absent[i]),
            "hit": lambda _i: revocations.is_open_for(hot, user_id),
            "miss": lambda _i: revocations.is_open_for(fresh.pop(), user_id),
        }
        print(f"  {name}: per run µs/call wall (median), µs/call CPU of this process")
        for round_no in range(ROUNDS + 1):
            tag = "warm-up" if round_no == 0 else f"round {round_no}/{ROUNDS}"
            for variant in VARIANTS:
                run = await timed(CALLS, variants[variant])
                print(f"  {tag:>11}  {variant:<9} {run.wall_us:8.1f} {run.cpu_us:8.1f}", flush=True)
                if round_no:
                    results[variant].append(run)
    finally:
        await store.close()
        await database.dispose()
    return results


def report(name: str, results: dict[str, list[Run]]) -> None:
    base = results["baseline"]
    print(f"\n{name}: medians over {ROUNDS} rounds of {CALLS:,} calls")
    header = (
        f"{'variant':<9} {'wall µs':>8} {'ratio (min-max)':<18} {'CPU µs':>7} "
        f"{'ratio (min-max)':<18}"
    )
    print(header)
    print("-" * len(header))
    for variant, runs in results.items():
        wall = [r.wall_us / b.wall_us for r, b in zip(runs, base, strict=True)]
        cpu = [r.cpu_us / b.cpu_us for r, b in zip(runs, base, strict=True)]
        print(
            f"{variant:<9} {statistics.median(r.wall_us for r in runs):8.1f} "
            f"{ratio_text(wall) if variant != 'baseline' else '-':<18} "
            f"{statistics.median(r.cpu_us for r in runs):7.1f} "
            f"{ratio_text(cpu) if variant != 'baseline' else '-':<18}"
        )


def main() -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {CLIENT_CORE})
    print("Revocation check: store as a cache of the database (hit, miss) vs the old check")
    for line in machine_lines():
        print(f"  {line}")
    print(
        f"  size     {'full' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up, {CALLS:,} calls"
    )
    with tempfile.TemporaryDirectory(prefix="bench-revocations-") as tmp:
        work = Path(tmp)
        backends: list[tuple[str, Settings]] = []
        sqlite_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
        upgrade(sqlite_url)
        common = {"_env_file": None, "data_dir": work / "data", "log_level": "WARNING"}
        backends.append(("SQLite + memory", Settings(database_url=sqlite_url, **common)))
        database_name = f"prodlens_bench_rev_{uuid.uuid4().hex[:8]}"
        prefix = f"prodlens-bench-{uuid.uuid4().hex[:12]}:"
        services = available_services()
        if services:
            asyncio.run(pg_admin(f'CREATE DATABASE "{database_name}"'))
            pg_url = make_url(POSTGRES_URL).set(database=database_name).render_as_string(False)
            upgrade(pg_url)
            backends.append(
                (
                    "PostgreSQL + Redis",
                    Settings(
                        database_url=pg_url,
                        redis_url=REDIS_URL,
                        redis={"key_prefix": prefix},
                        **common,
                    ),
                )
            )
        else:
            print("  (no PostgreSQL/Redis on 127.0.0.1: that variant is skipped)")
        try:
            results = {name: asyncio.run(bench_backend(name, s)) for name, s in backends}
        finally:
            if services:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'))
                with redis.Redis.from_url(REDIS_URL) as client:
                    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
                    if keys:
                        client.delete(*keys)
    for name, result in results.items():
        report(name, result)


if __name__ == "__main__":
    sys.exit(main())
