"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL + Redis.

Storage tests take the `stack` fixture (or `client`, built on it) and so run once
per backend. PostgreSQL + Redis run when PRODLENS_TEST_DATABASE_URL and
PRODLENS_TEST_REDIS_URL are set; with PRODLENS_REQUIRE_SERVICES=1 (CI) a
missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from prodlens.app import create_app
from prodlens.config import Settings
from prodlens.kit.clock import ManualClock
from prodlens.kit.migrations import upgrade
from tests.harness import Harness

TEST_DATABASE_URL = os.environ.get("PRODLENS_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("PRODLENS_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("PRODLENS_REQUIRE_SERVICES") == "1"


@dataclass(frozen=True)
class Stack:
    name: str
    database_url: str
    redis_url: str | None


def require_service(variable: str, value: str | None) -> str:
    if value:
        return value
    if REQUIRE_SERVICES:
        pytest.fail(f"{variable} must be set when PRODLENS_REQUIRE_SERVICES=1")
    pytest.skip(f"{variable} not set: PostgreSQL/Redis variant not run")


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_admin(*statements: str) -> None:
    """Run statements outside a transaction on the server's maintenance database."""
    assert TEST_DATABASE_URL is not None

    async def run() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(TEST_DATABASE_URL))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    # In a thread of its own: the caller's thread may already run an event loop
    # (Playwright's sync API does, for the browser tests).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database used as CREATE DATABASE … TEMPLATE for each test."""
    if not TEST_DATABASE_URL:
        yield None
        return
    name = f"prodlens_tpl_{os.getpid()}"
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    upgrade(_with_database(TEST_DATABASE_URL, name))
    yield name
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_stack(sqlite_template: Path, tmp_path: Path) -> Stack:
    path = tmp_path / "prodlens.db"
    shutil.copyfile(sqlite_template, path)
    return Stack("sqlite", f"sqlite+aiosqlite:///{path}", None)


@pytest.fixture
def postgres_stack(pg_template: str | None) -> Iterator[Stack]:
    base_url = require_service("PRODLENS_TEST_DATABASE_URL", TEST_DATABASE_URL)
    redis_url = require_service("PRODLENS_TEST_REDIS_URL", TEST_REDIS_URL)
    assert pg_template is not None
    name = f"prodlens_t_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield Stack("postgres", _with_database(base_url, name), redis_url)
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest) -> Stack:
    """Each storage test runs on SQLite + memory state and on PostgreSQL + Redis."""
    return request.getfixturevalue(f"{request.param}_stack")  # type: ignore[no-any-return]


SettingsFactory = Callable[..., Settings]


def settings_for(stack: Stack, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "development",
        "database_url": stack.database_url,
        "redis_url": stack.redis_url,
        "data_dir": data_dir,
        "log_format": "console",
        "redis": {"key_prefix": f"test:{uuid.uuid4().hex}:"},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def make_settings(stack: Stack, tmp_path: Path) -> SettingsFactory:
    """Settings on this test's backend, with overrides."""
    return lambda **overrides: settings_for(stack, tmp_path / "var", **overrides)


@pytest.fixture
def make_sqlite_settings(sqlite_stack: Stack, tmp_path: Path) -> SettingsFactory:
    """Settings on SQLite only, for tests whose subject is not storage."""
    return lambda **overrides: settings_for(sqlite_stack, tmp_path / "var", **overrides)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and talk to it in-process over ASGI."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


@pytest.fixture
async def client(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app on this test's backend (both backends)."""
    async with serving(create_app(make_settings())) as client:
        yield client


@asynccontextmanager
async def harness_for(settings: Settings) -> AsyncIterator[Harness]:
    clock = ManualClock()
    app = create_app(settings, clock=clock)
    async with serving(app) as client:
        yield Harness(app=app, client=client, clock=clock, settings=settings)


HarnessFactory = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture
def make_harness(make_settings: SettingsFactory) -> HarnessFactory:
    """`async with make_harness(**settings_overrides) as h:` on this test's backend."""
    return lambda **overrides: harness_for(make_settings(**overrides))


@pytest.fixture
async def harness(make_settings: SettingsFactory) -> AsyncIterator[Harness]:
    """The app on this test's backend (both backends), with a clock tests can move."""
    async with harness_for(make_settings()) as h:
        yield h


@pytest.fixture
async def api(make_sqlite_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app on SQLite, for HTTP-layer tests."""
    async with serving(create_app(make_sqlite_settings())) as client:
        yield client


# --- a PostgreSQL database and Redis for servers started as processes (tests/e2e, tests/browser)

MIGRATE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    key_prefix: str  # of this test's keys in Redis, removed afterwards


@pytest.fixture
def shared_services() -> Iterator[Services]:
    """Redis, and a fresh PostgreSQL database migrated by `prodlens migrate`."""
    base_url = require_service("PRODLENS_TEST_DATABASE_URL", TEST_DATABASE_URL)
    redis_url = require_service("PRODLENS_TEST_REDIS_URL", TEST_REDIS_URL)
    name = f"prodlens_rt_{uuid.uuid4().hex[:12]}"
    key_prefix = f"e2e-{uuid.uuid4().hex}:"
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PRODLENS_") and key not in {"DATABASE_URL", "REDIS_URL"}
        }
        migrated = subprocess.run(
            [sys.executable, "-m", "prodlens", "migrate"],
            env={**environment, "DATABASE_URL": url},
            capture_output=True,
            timeout=MIGRATE_TIMEOUT_S,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr.decode(errors="replace")
        yield Services(url, redis_url, key_prefix)
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with redis.Redis.from_url(redis_url) as client:
            keys = list(client.scan_iter(match=f"{key_prefix}*"))
            if keys:
                client.delete(*keys)
