"""Revision c3d5e7f90a12 rebuilds the latency sketches from the events of a database
that had only bucket columns, and its downgrade refills those columns."""

from __future__ import annotations

import asyncio
import bisect
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from prodlens.analytics import sketches
from prodlens.analytics.kpis import Filters, raw_metrics
from prodlens.analytics.window import Window
from prodlens.kit.migrations import alembic_config
from prodlens.projects.models import Project
from tests.conftest import Stack

BEFORE = "9fda26ced4de"
# The bucket columns of that revision: upper edges in ms, one open-ended bucket more.
EDGES_MS = (
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10000,
    15000,
    30000,
    60000,
)
BUCKETS = [f"latency_b{i}" for i in range(len(EDGES_MS) + 1)]
DAY = datetime(2026, 11, 2, tzinfo=UTC)
N = 600


def _column(name: str) -> sa.ColumnClause[Any]:
    if name.endswith("_at") or name == "period_start":
        return sa.column(name, sa.DateTime(timezone=True))
    return sa.column(
        name,
        sa.JSON()
        if name in {"repos", "allowed_models", "settings", "tags", "attributes"}
        else None,
    )


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(_column(column) for column in columns))


def _events() -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    for i in range(N):
        latency = None if i % 10 == 0 else float(rng.lognormal(np.log(1200), 0.9))
        rows.append(
            {
                "project_id": "p1",
                "event_id": f"e{i}",
                "developer_id": None if i % 7 == 0 else f"dev-{i % 2}",
                "response_model": ("gpt-4o", "claude")[i % 3 == 0],
                "latency_ms": latency,
                "ttft_ms": None if latency is None else latency * 0.2,
                "started_at": DAY + timedelta(minutes=int(rng.integers(0, 3 * 24 * 60))),
                **dict.fromkeys(("input_tokens", "output_tokens", "total_tokens"), 1),
                **dict.fromkeys(("cache_read_tokens", "cache_creation_tokens"), 0),
                "status": "ok",
                "tags": [],
                "attributes": {},
                "source": "native",
                "ingested_at": DAY,
            }
        )
    return rows


def _key(row: dict[str, Any], unit: str) -> tuple[Any, ...]:
    hour = row["started_at"].replace(minute=0)
    return (
        hour if unit == "hour" else hour.replace(hour=0),
        row["developer_id"] or "",
        row["response_model"],
    )


def _buckets(rows: list[dict[str, Any]], unit: str) -> dict[tuple[Any, ...], list[int]]:
    """The bucket counts the ingest of that revision kept, per rollup key."""
    counts: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        per_bucket = counts.setdefault(_key(row, unit), [0] * len(BUCKETS))
        if row["latency_ms"] is not None:
            per_bucket[bisect.bisect_left(EDGES_MS, row["latency_ms"])] += 1
    return counts


ROLLUPS = {"hour": "rollups_hourly", "day": "rollups_daily"}
COUNTERS = (
    *("events", "errors", "accepted", "rejected", "input_tokens", "output_tokens"),
    *("cache_read_tokens", "cache_creation_tokens", "total_tokens", "cost_usd"),
    *("lines_suggested", "lines_accepted", "latency_count", "latency_ms_sum"),
)


async def _seed(url: str, rows: list[dict[str, Any]]) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        project = {
            "id": "p1",
            "name": "p",
            "slug": "p",
            "description": "",
            "status": "active",
            "repos": [],
            "allowed_models": [],
            "settings": {},
            "created_at": DAY,
            "updated_at": DAY,
        }
        await conn.execute(sa.insert(_table("projects", *project)), [project])
        await conn.execute(sa.insert(_table("events", *rows[0])), rows)
        for unit, name in ROLLUPS.items():
            rollups: dict[tuple[Any, ...], dict[str, Any]] = {}
            for row in rows:
                rollup = rollups.setdefault(_key(row, unit), dict.fromkeys(COUNTERS, 0))
                rollup["events"] += 1
                if row["latency_ms"] is not None:
                    rollup["latency_count"] += 1
                    rollup["latency_ms_sum"] += row["latency_ms"]
            buckets = _buckets(rows, unit)
            values = [
                dict(zip(("period_start", "developer_id", "model"), key, strict=True))
                | {"project_id": "p1"} | sums | dict(zip(BUCKETS, buckets[key], strict=True))
                for key, sums in rollups.items()
            ]  # fmt: skip
            await conn.execute(sa.insert(_table(name, *values[0])), values)
    await engine.dispose()


async def _raw(url: str, window: Window) -> Any:
    engine = create_async_engine(url, poolclass=NullPool)
    async with async_sessionmaker(engine)() as session:
        project = await session.get(Project, "p1")
        assert project is not None
        raw = await raw_metrics(session, project, window, Filters())
    await engine.dispose()
    return raw


async def _bucket_columns(url: str, unit: str) -> dict[tuple[Any, ...], list[int]]:
    engine = create_async_engine(url, poolclass=NullPool)
    table = _table(ROLLUPS[unit], "period_start", "developer_id", "model", *BUCKETS)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(table))).all()
    await engine.dispose()
    return {
        (
            row[0].astimezone(UTC) if row[0].tzinfo else row[0].replace(tzinfo=UTC),
            row[1],
            row[2],
        ): list(row[3:])
        for row in rows
    }


def test_upgrade_rebuilds_sketches_and_downgrade_refills_buckets(stack: Stack) -> None:
    config = alembic_config(stack.database_url)
    command.downgrade(config, BEFORE)
    rows = _events()
    asyncio.run(_seed(stack.database_url, rows))
    command.upgrade(config, "head")

    # From 03:00 on the first day to the end of the third: hourly and daily sketches.
    window = Window(DAY + timedelta(hours=3), DAY + timedelta(days=3))
    raw = asyncio.run(_raw(stack.database_url, window))
    inside = [r for r in rows if r["started_at"] >= window.since and r["latency_ms"] is not None]
    latencies = np.array([r["latency_ms"] for r in inside])
    ttfts = np.array([r["ttft_ms"] for r in inside])
    assert (raw.latency_count, raw.ttft_count) == (len(inside), len(inside))
    for percent in (50, 90, 95, 99):
        for kind, values in (("latency", latencies), ("ttft", ttfts)):
            measured = getattr(raw, f"{kind}_p{percent}_ms")
            # The migration's bins are the code's: the same value as ingest would give ...
            code = sketches.quantile(Counter(sketches.bin_of(v) for v in values), percent / 100)
            assert measured == code, (kind, percent)
            # ... within 1 % of the exact order statistic.
            exact = float(np.percentile(values, percent, method="lower"))
            assert measured == pytest.approx(exact, rel=0.01), (kind, percent)

    command.downgrade(config, BEFORE)
    for unit in ROLLUPS:
        assert asyncio.run(_bucket_columns(stack.database_url, unit)) == _buckets(rows, unit)
    command.upgrade(config, "head")
