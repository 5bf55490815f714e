"""KPI queries on PostgreSQL: custom plans (what ProdLens asks for) against generic ones.

What it measures
    `GET /api/v1/projects/{id}/metrics` (every KPI, 30-day window) on PostgreSQL, served
    in this process through httpx's ASGI transport, one request at a time on one pooled
    connection. `analytics.kpis.raw_metrics` starts with `plan_for_actual_parameters`
    (`SET LOCAL plan_cache_mode = force_custom_plan`); the baseline replaces it with a
    no-op, so PostgreSQL's default (`auto`) may switch asyncpg's prepared statements to a
    generic plan after five runs. Per run of 10 requests: wall time per request and the
    CPU of the PostgreSQL backends connected to the database per request (/proc/PID/stat).
    Rounds alternate the order (custom then default, default then custom); a warm-up of
    12 requests comes first, so both modes run with statements already prepared. The
    ratio custom/default of the backends' CPU is taken within a round and reported as
    median (min-max).

The data
    The layout of bench_kpis.py (20 developers, 6 models, 60 days, 72,000 hourly and
    7,200 daily rollup rows, 6,000 sessions), loaded with COPY and derived by SQL:
    100,000 events by default, 1,000,000 with BENCH_FULL=1 (the KPI queries read only
    rollups and sessions, so the size matters little).

Run
    .venv/bin/python bench/bench_kpi_plans.py
    BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres):
    a scratch database `bench_kpi_plans_<pid>` is created there and dropped at the end.
    Default: about 2 minutes here.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import asyncpg
import httpx
import numpy as np
from _common import BenchError, machine_lines, migrate
from _events import (
    BackendCpu,
    create_database,
    database_url,
    drop_database,
    dsn,
    postgres_available,
    provision_with,
    server_env,
)
from bench_kpis import (
    SEED,
    PostgresStore,
    build_derived,
    bulk_load,
    data_layout,
    layout_blocks,
    window,
)
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.kpis import queries
from prodlens.kit.db import plan_for_actual_parameters

FULL = os.environ.get("BENCH_FULL") == "1"
EVENTS = 1_000_000 if FULL else 100_000
ROUNDS = 7 if FULL else 6
REQUESTS = 10
WARM_UP = 12

Planner = Callable[[AsyncSession], Awaitable[None]]


async def _default_plans(_session: AsyncSession) -> None:
    """The baseline: leave plan_cache_mode as PostgreSQL has it."""


async def _load(name: str, project_id: str) -> None:
    store = PostgresStore(await asyncpg.connect(dsn(name)))
    try:
        rng = np.random.default_rng(SEED + EVENTS)
        blocks = layout_blocks(data_layout(), EVENTS, rng)
        await bulk_load(store, blocks, project_id, datetime.now(UTC))
        await build_derived(store, project_id)
        await store.conn.execute("ANALYZE")
    finally:
        await store.close()


async def _measure(
    client: httpx.AsyncClient, url: str, auth: dict[str, str], cpu: BackendCpu
) -> tuple[float, float]:
    """Milliseconds per request: wall time, PostgreSQL backends' CPU."""
    await cpu.start()
    started = time.perf_counter()
    for _ in range(REQUESTS):
        response = await client.get(url, headers=auth)
        if response.status_code != 200:
            raise BenchError(f"metrics answered {response.status_code}: {response.text[:300]}")
    wall = (time.perf_counter() - started) / REQUESTS
    return wall * 1000, await cpu.stop() / REQUESTS * 1000


async def run() -> None:
    if (why := await postgres_available()) is not None:
        raise BenchError(f"PostgreSQL is needed: {why}")
    admin = await asyncpg.connect(dsn())
    name = f"bench_kpi_plans_{os.getpid()}"
    await create_database(admin, name)
    planners: dict[str, Planner] = {
        "custom": plan_for_actual_parameters,
        "default": _default_plans,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="bench_kpi_plans_") as tmp:
            env = server_env(Path(tmp), database_url(name))
            migrate(env, Path(tmp))
            os.environ.update(env)
            # Imported late: settings are read from the environment just set.
            from prodlens.app import create_app
            from prodlens.config import Settings

            app = create_app(Settings(_env_file=None))
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
                ) as client,
            ):
                setup = await provision_with(client)
                project_id = setup.project_id
                auth = {"Authorization": f"Bearer {setup.access_token}"}
                await _load(name, project_id)
                since, until = window()
                url = f"/api/v1/projects/{project_id}/metrics?since={since}&until={until}"
                cpu = BackendCpu(admin, name)
                for _ in range(WARM_UP):
                    await client.get(url, headers=auth)
                results: dict[str, list[tuple[float, float]]] = {"custom": [], "default": []}
                for round_no in range(ROUNDS):
                    order = ("custom", "default") if round_no % 2 == 0 else ("default", "custom")
                    for mode in order:
                        with patch.object(queries, "plan_for_actual_parameters", planners[mode]):
                            wall, pg = await _measure(client, url, auth, cpu)
                        results[mode].append((wall, pg))
                        print(
                            f"    round {round_no + 1}/{ROUNDS} {mode:7} wall {wall:6.1f} ms"
                            f"  PG backends {pg:6.1f} ms CPU per request",
                            flush=True,
                        )
    finally:
        await drop_database(admin, name)
        await admin.close()
    _report(results)


def _report(results: dict[str, list[tuple[float, float]]]) -> None:
    for mode, runs in results.items():
        wall = statistics.median(run[0] for run in runs)
        pg = statistics.median(run[1] for run in runs)
        print(f"  {mode:7} median: wall {wall:6.1f} ms, PG backends {pg:6.1f} ms CPU per request")
    ratios = [
        custom[1] / default[1]
        for custom, default in zip(results["custom"], results["default"], strict=True)
    ]
    wall_ratios = [
        custom[0] / default[0]
        for custom, default in zip(results["custom"], results["default"], strict=True)
    ]
    print(
        f"  custom / default, within each round: PG CPU {statistics.median(ratios):.2f} "
        f"({min(ratios):.2f}-{max(ratios):.2f}), wall {statistics.median(wall_ratios):.2f} "
        f"({min(wall_ratios):.2f}-{max(wall_ratios):.2f})"
    )


def main() -> None:
    print("KPI queries on PostgreSQL: custom plans vs PostgreSQL's default plan cache mode")
    for line in machine_lines():
        print(f"  {line}")
    print(
        f"  size     {'BENCH_FULL' if FULL else 'default'}: {EVENTS:,} events; {ROUNDS} rounds "
        f"of {REQUESTS} requests per mode after {WARM_UP} warm-up requests; in-process ASGI"
    )
    started = time.monotonic()
    try:
        asyncio.run(run())
    except BenchError as exc:
        sys.exit(f"bench_kpi_plans: {exc}")
    print(f"total time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
