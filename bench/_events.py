"""Synthetic usage events and ProdLens setup shared by bench_ingest.py and bench_kpis.py.

Not a benchmark itself. One generator (numpy, in blocks) gives the same events in the
three shapes the benchmarks need: native JSON for `POST /api/v1/ingest/events`, records
for asyncpg's `copy_records_to_table` into `events`, and rows for SQLite `executemany`.
Every field is given explicitly (latency, total tokens, a reported cost, status), so the
row ingest stores is exactly the record built here: bench_kpis.py asserts it.

Also: provisioning an account, a project and an API key over HTTP, `prodlens migrate`,
scratch PostgreSQL databases and the CPU of their backends. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
from _common import BenchError, cpu_seconds, prodlens_env
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
MODELS = (
    "claude-sonnet-4",
    "claude-3-5-haiku",
    "gpt-4.1",
    "gpt-4o-mini",
    "gemini-2.5-pro",
    "o3-mini",
)
PROVIDERS = ("anthropic", "anthropic", "openai", "openai", "google", "openai")
# The password policy refuses one that contains the username.
USERNAME = "benchuser"
PASSWORD = "violet-lantern-ocean-42"
RETRIES = 3  # attempts after a 5xx answer to an ingest batch

# The columns of `events` a bulk load writes (all but the serial `id`), in this order.
EVENT_COLUMNS = (
    "project_id",
    "event_id",
    "session_id",
    "developer_id",
    "started_at",
    "ended_at",
    "latency_ms",
    "ttft_ms",
    "provider",
    "operation",
    "request_model",
    "response_model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "total_tokens",
    "cost_usd",
    "cost_source",
    "status",
    "http_status",
    "error_type",
    "finish_reason",
    "accepted",
    "lines_suggested",
    "lines_accepted",
    "repo",
    "tags",
    "attributes",
    "source",
    "ingested_at",
)


# --- the generator -------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """Columns of `len(event_id)` events (None where a field is absent)."""

    event_id: list[str]
    session_id: list[str | None]
    developer_id: list[str | None]
    started_at: list[datetime]  # aware, UTC
    ended_at: list[datetime | None]
    latency_ms: list[float | None]
    ttft_ms: list[float | None]
    provider: list[str]
    model: list[str]
    input_tokens: list[int]
    output_tokens: list[int]
    cache_read_tokens: list[int]
    cache_creation_tokens: list[int]
    total_tokens: list[int]
    cost_usd: list[float]
    status: list[str]
    http_status: list[int | None]
    error_type: list[str | None]
    finish_reason: list[str | None]
    accepted: list[bool | None]
    lines_suggested: list[int | None]
    lines_accepted: list[int | None]
    repo: list[str | None]

    def __len__(self) -> int:
        return len(self.event_id)


def _utc_datetimes(microseconds: np.ndarray) -> list[datetime]:
    return [moment.replace(tzinfo=UTC) for moment in microseconds.astype("datetime64[us]").tolist()]


def _or_none(values: np.ndarray | list[Any], present: np.ndarray) -> list[Any]:
    items = values.tolist() if isinstance(values, np.ndarray) else values
    return [value if keep else None for value, keep in zip(items, present.tolist(), strict=True)]


def make_block(
    rng: np.random.Generator,
    *,
    event_ids: list[str],
    developer: np.ndarray,  # index into developers, -1: none
    model: np.ndarray,  # index into MODELS
    session_ids: list[str | None],
    started_us: np.ndarray,  # microseconds since the epoch, UTC
    null_latency_share: float = 0.01,
) -> Block:
    """Random usage fields for events whose who/what/when the caller chose."""
    n = len(event_ids)
    latency = np.clip(np.rint(rng.lognormal(7.0, 1.0, n)), 1, 600_000)
    has_latency = rng.random(n) >= null_latency_share
    ended_us = started_us + latency.astype(np.int64) * 1000
    input_tokens = rng.integers(50, 6000, n)
    output_tokens = rng.integers(10, 1200, n)
    cache_read = np.where(rng.random(n) < 0.5, 0, rng.integers(0, 8000, n))
    cache_creation = np.where(rng.random(n) < 0.9, 0, rng.integers(0, 2000, n))
    total = input_tokens + output_tokens + cache_read + cache_creation
    # Whole micro-dollars: the reported cost is exact in NUMERIC(18, 8) and in a float.
    cost = (input_tokens * 3 + output_tokens * 15 + cache_read // 3 + cache_creation * 4) / 1e6
    error = rng.random(n) < 0.02
    outcome = rng.random(n)  # < 0.35 accepted, < 0.75 rejected, else unknown
    known = outcome < 0.75
    suggested = rng.integers(1, 40, n)
    taken = np.where(outcome < 0.35, np.floor(rng.random(n) * (suggested + 1)), 0).astype(int)
    has_developer = developer >= 0
    developers = developer.tolist()
    models = model.tolist()
    return Block(
        event_id=event_ids,
        session_id=session_ids,
        developer_id=[f"dev-{d:02d}" if d >= 0 else None for d in developers],
        started_at=_utc_datetimes(started_us),
        ended_at=_or_none(_utc_datetimes(ended_us), has_latency),
        latency_ms=_or_none(latency, has_latency),
        ttft_ms=_or_none(np.floor(latency / 4), has_latency),
        provider=[PROVIDERS[m] for m in models],
        model=[MODELS[m] for m in models],
        input_tokens=input_tokens.tolist(),
        output_tokens=output_tokens.tolist(),
        cache_read_tokens=cache_read.tolist(),
        cache_creation_tokens=cache_creation.tolist(),
        total_tokens=total.tolist(),
        cost_usd=cost.tolist(),
        status=["error" if e else "ok" for e in error.tolist()],
        http_status=_or_none([429] * n, error),
        error_type=_or_none(["rate_limit"] * n, error),
        finish_reason=_or_none(["stop"] * n, ~error),
        accepted=[
            (o < 0.35) if k else None for o, k in zip(outcome.tolist(), known.tolist(), strict=True)
        ],
        lines_suggested=_or_none(suggested, known),
        lines_accepted=_or_none(taken, known),
        repo=_or_none([f"acme/repo-{d % 3}" for d in developers], has_developer),
    )


def native_events(block: Block, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
    """Events `start:stop` in ProdLens's native JSON shape (absent fields left out)."""
    events = []
    for i in range(start, len(block) if stop is None else stop):
        ended = block.ended_at[i]
        event: dict[str, Any] = {
            "event_id": block.event_id[i],
            "session_id": block.session_id[i],
            "developer_id": block.developer_id[i],
            "started_at": block.started_at[i].isoformat(),
            "ended_at": ended.isoformat() if ended is not None else None,
            "latency_ms": block.latency_ms[i],
            "ttft_ms": block.ttft_ms[i],
            "provider": block.provider[i],
            "operation": "chat",
            "request_model": block.model[i],
            "response_model": block.model[i],
            "input_tokens": block.input_tokens[i],
            "output_tokens": block.output_tokens[i],
            "cache_read_tokens": block.cache_read_tokens[i],
            "cache_creation_tokens": block.cache_creation_tokens[i],
            "total_tokens": block.total_tokens[i],
            "cost_usd": block.cost_usd[i],
            "status": block.status[i],
            "http_status": block.http_status[i],
            "error_type": block.error_type[i],
            "finish_reason": block.finish_reason[i],
            "accepted": block.accepted[i],
            "lines_suggested": block.lines_suggested[i],
            "lines_accepted": block.lines_accepted[i],
            "repo": block.repo[i],
        }
        events.append({key: value for key, value in event.items() if value is not None})
    return events


def json_batches(block: Block, size: int) -> list[bytes]:
    """The block as JSON request bodies of `size` events each."""
    return [
        json.dumps(native_events(block, start, min(start + size, len(block)))).encode()
        for start in range(0, len(block), size)
    ]


def _constant(value: Any, n: int) -> list[Any]:
    return [value] * n


def _columns(block: Block, project_id: str, ingested_at: Any) -> list[list[Any]]:
    n = len(block)
    return [
        _constant(project_id, n),
        block.event_id,
        block.session_id,
        block.developer_id,
        block.started_at,
        block.ended_at,
        block.latency_ms,
        block.ttft_ms,
        block.provider,
        _constant("chat", n),
        block.model,
        block.model,
        block.input_tokens,
        block.output_tokens,
        block.cache_read_tokens,
        block.cache_creation_tokens,
        block.total_tokens,
        block.cost_usd,
        _constant("reported", n),
        block.status,
        block.http_status,
        block.error_type,
        block.finish_reason,
        block.accepted,
        block.lines_suggested,
        block.lines_accepted,
        block.repo,
        _constant("[]", n),
        _constant("{}", n),
        _constant("native", n),
        _constant(ingested_at, n),
    ]


def copy_records(block: Block, project_id: str, ingested_at: datetime) -> list[tuple[Any, ...]]:
    """Records for `copy_records_to_table("events", columns=EVENT_COLUMNS)`."""
    return list(zip(*_columns(block, project_id, ingested_at), strict=True))


def sqlite_time(moment: datetime | None) -> str | None:
    """How SQLAlchemy stores a UTC datetime in SQLite."""
    return None if moment is None else moment.isoformat(sep=" ", timespec="microseconds")[:26]


def sqlite_rows(block: Block, project_id: str, ingested_at: datetime) -> list[tuple[Any, ...]]:
    """Rows for `INSERT INTO events (EVENT_COLUMNS) VALUES (?, …)` with sqlite3."""
    columns = _columns(block, project_id, sqlite_time(ingested_at))
    for name in ("started_at", "ended_at"):
        index = EVENT_COLUMNS.index(name)
        columns[index] = [sqlite_time(moment) for moment in columns[index]]
    index = EVENT_COLUMNS.index("accepted")
    columns[index] = [None if value is None else int(value) for value in columns[index]]
    return list(zip(*columns, strict=True))


_NAMES = ", ".join(EVENT_COLUMNS)
_PLACEHOLDERS = ", ".join("?" * len(EVENT_COLUMNS))
SQLITE_INSERT = f"INSERT INTO events ({_NAMES}) VALUES ({_PLACEHOLDERS})"  # noqa: S608


# --- ProdLens servers ----------------------------------------------------------------------


def server_env(cwd: Path, database_url: str | None) -> dict[str, str]:
    """A ProdLens environment: WARNING logs, rate limits off, no demo data, this database
    (None: a SQLite file in `cwd`)."""
    env = prodlens_env(cwd, "WARNING")
    env["PRODLENS_RATE_LIMITS__ENABLED"] = "false"
    env["PRODLENS_DEMO_ON_EMPTY"] = "false"
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def sqlite_path(env: dict[str, str]) -> Path:
    return Path(make_url(env["DATABASE_URL"]).database or "")


@dataclass(frozen=True)
class Provisioned:
    project_id: str
    key: str  # an API key of the project with the ingest and read scopes
    access_token: str  # the owner's, valid 30 minutes by default


async def sign_in(port: int) -> str:
    """A fresh access token of the benchmark's account (valid 30 minutes by default)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD}
        )
        if response.status_code != 200:
            raise BenchError(f"login answered {response.status_code}: {response.text[:300]}")
        return str(response.json()["access_token"])


async def provision(port: int, project: str = "Bench") -> Provisioned:
    """Register and sign in (HTTP), create a project and an API key."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        return await provision_with(client, project)


async def provision_with(client: httpx.AsyncClient, project: str = "Bench") -> Provisioned:
    """`provision` through a given client (an in-process app, say)."""
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "bench@example.com",
            "username": USERNAME,
            "password": PASSWORD,
            "display_name": "Bench",
        },
    )
    if response.status_code not in (200, 201, 202):
        raise BenchError(f"register answered {response.status_code}: {response.text[:300]}")
    response = await client.post(
        "/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD}
    )
    if response.status_code != 200:
        raise BenchError(f"login answered {response.status_code}: {response.text[:300]}")
    token = str(response.json()["access_token"])
    auth = {"Authorization": f"Bearer {token}"}
    response = await client.post("/api/v1/projects", json={"name": project}, headers=auth)
    if response.status_code != 201:
        raise BenchError(f"project answered {response.status_code}: {response.text[:300]}")
    project_id = response.json()["id"]
    response = await client.post(
        f"/api/v1/projects/{project_id}/api-keys",
        json={"name": "bench", "scopes": ["ingest", "read"]},
        headers=auth,
    )
    if response.status_code != 201:
        raise BenchError(f"api key answered {response.status_code}: {response.text[:300]}")
    return Provisioned(project_id, response.json()["key"], token)


@dataclass(frozen=True)
class IngestOutcome:
    events: int  # events stored (accepted, or found already stored after a retry)
    retried: list[str]  # the 5xx answers that were retried: "status correlation-id"


async def ingest_all(port: int, key: str, bodies: Sequence[bytes], clients: int) -> IngestOutcome:
    """POST the bodies to /api/v1/ingest/events from `clients` concurrent connections.
    Every event must be stored; a batch answered 5xx is retried (up to RETRIES times)
    and counted, so that a rare server error is reported rather than fatal."""
    queue = list(reversed(bodies))
    stored = 0
    retried: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal stored
        while queue:
            body = queue.pop()
            for attempt in range(RETRIES + 1):
                response = await client.post("/api/v1/ingest/events", content=body, headers=headers)
                if response.status_code < 500 or attempt == RETRIES:
                    break
                problem = ""
                with contextlib.suppress(ValueError):
                    problem = response.json().get("correlation_id", "")
                retried.append(f"{response.status_code} {problem}")
            if response.status_code != 200:
                raise BenchError(f"ingest answered {response.status_code}: {response.text[:300]}")
            summary = response.json()["summary"]
            if summary["rejected"] or (summary["duplicate"] and attempt == 0):
                raise BenchError(f"ingest did not accept every event: {summary}")
            stored += summary["accepted"] + summary["duplicate"]

    try:
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120
            ) as client,
            asyncio.TaskGroup() as group,
        ):
            for _ in range(clients):
                group.create_task(worker(client))
    except ExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    return IngestOutcome(stored, retried)


_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Detected\w*)): .+$")


def server_errors(log: Path | None) -> list[str]:
    """The exception lines ("OperationalError: database is locked") of a server's log."""
    if log is None or not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    return [line.strip() for line in lines if _ERROR_LINE.match(line.strip())]


# --- PostgreSQL ----------------------------------------------------------------------------


def database_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the benchmark's PostgreSQL server."""
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def dsn(name: str | None = None) -> str:
    """An asyncpg DSN for database `name` (None: the admin database of POSTGRES_URL)."""
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    if name is not None:
        url = url.set(database=name)
    return url.render_as_string(hide_password=False)


async def postgres_available() -> str | None:
    """None when the server answers, else why not."""
    try:
        conn = await asyncpg.connect(dsn(), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def create_database(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')


async def drop_database(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class BackendCpu:
    """CPU of the PostgreSQL backends connected to a database, from /proc/PID/stat.

    Backends that exit between `start()` and `stop()` lose their share; the WAL writer,
    checkpointer and autovacuum are not counted."""

    def __init__(self, admin: asyncpg.Connection, database: str) -> None:
        self.admin, self.database = admin, database
        self.before: dict[int, float] = {}

    async def _sample(self) -> dict[int, float]:
        pids = await self.admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
        )
        sample = {}
        for row in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                sample[row["pid"]] = cpu_seconds(row["pid"])
        return sample

    async def start(self) -> None:
        self.before = await self._sample()

    async def stop(self) -> float:
        after = await self._sample()
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in after.items())
