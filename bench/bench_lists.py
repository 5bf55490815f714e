"""Listing page 1 stays flat as tables grow (issue: projects, work items).

Measures the server CPU per request of `GET /api/v1/projects` (a user's
projects) and `GET /api/v1/projects/{id}/items` (a project's work items),
default and sorted, on a database holding 100 rows and one holding 100,000 rows
of each, in-process through ASGI (no network: the figure is the app's own cost).
The user is a member of 30 of the projects (the tables grow, the user's list does
not); a second figure has the user a member of every project (the extreme case:
counting stops at 10,000, but sorting the user's projects grows with them).
Sizes are interleaved round by round; the ratio large/small is reported per
route as median (min-max).

Run: `make bench`, or `.venv/bin/python bench/bench_lists.py`; BENCH_FULL=1 for
more rounds. Add BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1/postgres
to run the same on PostgreSQL (a scratch database is created and dropped).
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FULL, machine_lines

from prodlens.app import create_app
from prodlens.config import Settings
from prodlens.kit.migrations import upgrade

SIZES = (100, 100_000)
ROUNDS = 10 if FULL else 5
REQUESTS = 200 if FULL else 100
PASSWORD = "quartz-lantern-ocean-77"
MEMBER_OF = 30
ROUTES = {
    "projects page 1": "/api/v1/projects",
    "projects by name": "/api/v1/projects?sort=name",
    "items page 1": "/api/v1/projects/{project}/items",
    "items open, by title": "/api/v1/projects/{project}/items?status=open&sort=title",
    "items by updated": "/api/v1/projects/{project}/items?sort=-updated_at",
}


async def _fill(app: object, size: int, member_of: int | None) -> tuple[str, str]:
    """`size` projects, the user a member of `member_of` (all: None); the first project
    holds `size` items."""
    database = app.state.database  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c:
        await c.post(
            "/api/v1/auth/register",
            json={
                "email": "b@example.com",
                "username": "bench",
                "password": PASSWORD,
                "display_name": "Bench",
            },
        )
        token = (
            await c.post("/api/v1/auth/login", json={"username": "bench", "password": PASSWORD})
        ).json()["access_token"]
        user_id = (
            await c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        ).json()["id"]
    now = datetime.now(UTC)
    projects = [
        {
            "id": str(uuid.uuid4()),
            "name": f"Project {n:06d}",
            "slug": f"p-{n:06d}",
            "t": now - timedelta(minutes=n),
        }
        for n in range(size)
    ]
    async with database.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO projects (id, name, slug, description, status, repos, allowed_models,"
                " settings, created_by, created_at, updated_at) VALUES (:id, :name, :slug, '',"
                " 'active', '[]', '[]', '{}', NULL, :t, :t)"
            ),
            projects,
        )
        await conn.execute(
            text(
                "INSERT INTO project_members (project_id, user_id, role, added_at)"
                " VALUES (:id, :user, 'owner', :t)"
            ),
            [{"id": p["id"], "user": user_id, "t": p["t"]} for p in projects[:member_of]],
        )
        await conn.execute(
            text(
                "INSERT INTO work_items (id, project_id, title, description, status, created_at,"
                " updated_at) VALUES (:id, :project, :title, '', :status, :t, :t)"
            ),
            [
                {
                    "id": str(uuid.uuid4()),
                    "project": projects[0]["id"],
                    "title": f"Item {n:06d}",
                    "status": ("open", "in_progress", "done")[n % 3],
                    "t": now - timedelta(seconds=n),
                }
                for n in range(size)
            ],
        )
    return token, projects[0]["id"]


async def _cpu_per_request(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    for _ in range(5):  # warm caches for this route
        assert (await client.get(url, headers=headers)).status_code == 200
    started = time.process_time()
    for _ in range(REQUESTS):
        await client.get(url, headers=headers)
    return (time.process_time() - started) / REQUESTS * 1e6


async def measure(database_urls: dict[int, str], label: str, member_of: int | None) -> None:
    async with contextlib.AsyncExitStack() as stack:
        await _measure(stack, database_urls, label, member_of)


async def _measure(
    stack: contextlib.AsyncExitStack,
    database_urls: dict[int, str],
    label: str,
    member_of: int | None,
) -> None:
    apps, clients, auth = {}, {}, {}
    for size, url in database_urls.items():
        await asyncio.to_thread(upgrade, url)
        settings = Settings(
            _env_file=None,
            database_url=url,
            log_level="WARNING",
            rate_limits={"enabled": False},
        )
        apps[size] = create_app(settings)
        await stack.enter_async_context(apps[size].router.lifespan_context(apps[size]))
        clients[size] = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[size]), base_url="http://b")
        )
        print(f"  filling {label} with {size:,} rows ...", flush=True)
        auth[size] = await _fill(apps[size], size, member_of)

    routes = (
        ROUTES if member_of is not None else {k: v for k, v in ROUTES.items() if "projects" in k}
    )
    results: dict[str, dict[int, list[float]]] = {r: {s: [] for s in SIZES} for r in routes}
    for _ in range(ROUNDS):
        for route, template in routes.items():
            for size in SIZES:  # interleaved: small, large, small, large ...
                token, project = auth[size]
                url = template.format(project=project)
                cost = await _cpu_per_request(
                    clients[size], url, {"Authorization": f"Bearer {token}"}
                )
                results[route][size].append(cost)

    print(f"\n{label}: server CPU µs per request (median of {ROUNDS} rounds x {REQUESTS})")
    print(
        f"  {'route':24} {'100 rows':>10} {'100,000 rows':>13}  ratio large/small median (min-max)"
    )
    for route, by_size in results.items():
        small, large = by_size[SIZES[0]], by_size[SIZES[1]]
        ratios = [b / a for a, b in zip(small, large, strict=True)]
        print(
            f"  {route:24} {statistics.median(small):10.0f} {statistics.median(large):13.0f}"
            f"  {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        )


async def _postgres(base: str) -> None:
    admin = make_url(base).set(drivername="postgresql")
    names = {size: f"bench_lists_{size}_{os.getpid()}" for size in SIZES}
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        for name in names.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        urls = {
            size: make_url(base).set(database=name).render_as_string(hide_password=False)
            for size, name in names.items()
        }
        await measure(urls, f"PostgreSQL, user in {MEMBER_OF} projects", MEMBER_OF)
    finally:
        for name in names.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def main() -> None:
    print("bench_lists:", *machine_lines(), sep="\n  ")
    for member_of, label in ((MEMBER_OF, f"user in {MEMBER_OF} projects"), (None, "user in all")):
        with tempfile.TemporaryDirectory() as tmp:
            urls = {size: f"sqlite+aiosqlite:///{tmp}/lists-{size}.db" for size in SIZES}
            await measure(urls, f"SQLite, {label}", member_of)
    if base := os.environ.get("BENCH_POSTGRES_URL"):
        await _postgres(base)


if __name__ == "__main__":
    asyncio.run(main())
