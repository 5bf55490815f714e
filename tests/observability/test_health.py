from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from prodlens.app import create_app
from prodlens.kit.migrations import head_revisions
from tests.conftest import SettingsFactory, Stack, serving
from tests.harness import Harness
from tests.tcp_proxy import TcpProxy


async def test_cheap_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/health/live")).json() == {"status": "alive"}


async def test_ready_when_dependencies_answer(client: httpx.AsyncClient, stack: Stack) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert {name: check["status"] for name, check in checks.items()} == {
        "database": "ok",
        "migrations": "ok",
        "state": "ok",
    }
    assert (
        checks["database"]["detail"] == {"sqlite": "sqlite", "postgres": "postgresql"}[stack.name]
    )
    assert checks["state"]["detail"] == ("redis" if stack.redis_url else "memory")
    [head] = head_revisions()
    assert checks["migrations"]["detail"] == f"at {head}"


async def test_detailed_reports_version_uptime_and_latency(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health/detailed")).json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["environment"] == "development"
    assert body["uptime_seconds"] >= 0
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert body["checks"]["database"]["detail"] is None  # details are for admins
    assert "url" not in str(body).lower()  # no connection strings


async def test_detailed_shows_details_to_admins(harness: Harness) -> None:
    admin = await harness.signup("root")
    await harness.make_admin(admin)
    user = await harness.signup("dev")
    as_admin = (await harness.client.get("/health/detailed", headers=admin.headers)).json()
    assert as_admin["checks"]["migrations"]["detail"].startswith("at ")
    as_user = (await harness.client.get("/health/detailed", headers=user.headers)).json()
    assert as_user["checks"]["migrations"]["detail"] is None


async def test_not_ready_without_migrations(
    make_sqlite_settings: SettingsFactory, tmp_path: Path
) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}"
    async with serving(create_app(make_sqlite_settings(database_url=empty))) as client:
        response = await client.get("/health/ready")
        assert (await client.get("/health")).status_code == 200
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "health.not_ready"
    assert body["checks"]["migrations"]["status"] == "failing"
    assert "prodlens migrate" in body["detail"]


async def test_not_ready_when_database_unreachable(
    make_sqlite_settings: SettingsFactory, tmp_path: Path
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()  # SQLite cannot open a directory as a database
    settings = make_sqlite_settings(database_url=f"sqlite+aiosqlite:///{directory}")
    async with serving(create_app(settings)) as client:
        ready = await client.get("/health/ready")
        detailed = await client.get("/health/detailed")
        assert (await client.get("/health")).status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "failing"
    assert detailed.status_code == 200
    assert detailed.json()["status"] == "failing"


async def test_degraded_when_redis_unreachable(make_sqlite_settings: SettingsFactory) -> None:
    """Redis down: the service keeps answering on local state, and says so."""
    settings = make_sqlite_settings(
        redis_url="redis://127.0.0.1:1/0", redis={"socket_timeout": 0.2}
    )
    async with serving(create_app(settings)) as client:
        ready = await client.get("/health/ready")
        detailed = await client.get("/health/detailed")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["state"]["status"] == "degraded"
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert detailed.json()["status"] == "degraded"


async def test_postgres_outage_and_recovery(
    postgres_stack: Stack, make_sqlite_settings: SettingsFactory
) -> None:
    """PostgreSQL goes away: ready 503, health 200; it comes back: ready 200, no restart."""
    url = make_url(postgres_stack.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = make_sqlite_settings(database_url=proxied, db={"health_timeout": 1.0})
    async with serving(create_app(settings)) as client:
        assert (await client.get("/health/ready")).status_code == 200

        await proxy.stop()
        down = await client.get("/health/ready")
        assert down.status_code == 503
        assert down.json()["checks"]["database"]["status"] == "failing"
        assert (await client.get("/health")).status_code == 200

        await proxy.start()  # same port again
        assert (await client.get("/health/ready")).status_code == 200
    await proxy.stop()
