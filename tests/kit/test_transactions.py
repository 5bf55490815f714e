"""One request is one transaction: committed before the response, rolled back on error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.app import create_app
from prodlens.config import Settings
from prodlens.kit.db import (
    Database,
    SessionDep,
    even_if_rolled_back,
    plan_for_actual_parameters,
)
from prodlens.kit.errors import ProblemError
from prodlens.kit.migrations import upgrade
from tests.conftest import SettingsFactory, Stack, serving, settings_for


class Refused(ProblemError):
    status, code, title = 409, "test.refused", "Refused"


def with_note_routes(app: FastAPI) -> FastAPI:
    @app.post("/api/v1/_test/notes/{body}")
    async def add_note(body: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
        await session.execute(text("INSERT INTO test_notes (body) VALUES (:b)"), {"b": body})
        if fail:
            raise Refused("refused after writing")
        return {"body": body}

    @app.post("/api/v1/_test/kept-notes/{body}")
    async def add_kept_note(body: str, session: SessionDep, fail: bool = False) -> None:
        """Writes `body` whatever happens, and `body-request` only if the request succeeds."""

        async def keep(separate: AsyncSession) -> None:
            await separate.execute(text("INSERT INTO test_notes (body) VALUES (:b)"), {"b": body})

        await session.execute(
            text("INSERT INTO test_notes (body) VALUES (:b)"), {"b": f"{body}-request"}
        )
        even_if_rolled_back(session, keep)
        if fail:
            raise Refused("refused after writing")

    @app.post("/api/v1/_test/orphans/{body}")
    async def add_orphan(body: str, session: SessionDep) -> None:
        """Writes `body` whatever happens, and a child whose parent is missing: the
        deferred foreign key fails the request's commit."""

        async def keep(separate: AsyncSession) -> None:
            await separate.execute(text("INSERT INTO test_notes (body) VALUES (:b)"), {"b": body})

        even_if_rolled_back(session, keep)
        await session.execute(text("INSERT INTO test_children (parent) VALUES ('missing')"))

    @app.get("/api/v1/_test/notes")
    async def list_notes(session: SessionDep) -> list[str]:
        rows = await session.execute(text("SELECT body FROM test_notes ORDER BY body"))
        return [row[0] for row in rows]

    return app


@pytest.fixture
async def notes(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = with_note_routes(create_app(make_settings()))
    async with serving(app) as client:
        async with app.state.database.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE test_notes (body VARCHAR(50) PRIMARY KEY)"))
            await conn.execute(
                text(
                    "CREATE TABLE test_children (parent VARCHAR(50) REFERENCES test_notes (body)"
                    " DEFERRABLE INITIALLY DEFERRED)"
                )
            )
        yield client


async def test_success_is_committed_before_the_response(notes: httpx.AsyncClient) -> None:
    assert (await notes.post("/api/v1/_test/notes/first")).status_code == 200
    assert (await notes.get("/api/v1/_test/notes")).json() == ["first"]


async def test_error_rolls_back(notes: httpx.AsyncClient) -> None:
    response = await notes.post("/api/v1/_test/notes/doomed", params={"fail": True})
    assert response.status_code == 409
    assert response.json()["code"] == "test.refused"
    assert (await notes.get("/api/v1/_test/notes")).json() == []


async def test_failed_commit_is_not_a_success(notes: httpx.AsyncClient) -> None:
    assert (await notes.post("/api/v1/_test/notes/same")).status_code == 200
    duplicate = await notes.post("/api/v1/_test/notes/same")  # primary key violated
    assert duplicate.status_code == 500
    assert duplicate.json()["code"] == "internal.error"
    assert (await notes.get("/api/v1/_test/notes")).json() == ["same"]


async def test_sqlite_pragmas(make_sqlite_settings: SettingsFactory) -> None:
    app = create_app(make_sqlite_settings())
    async with serving(app), app.state.database.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1


def test_embedded_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    upgrade(settings.database_url)
    assert (tmp_path / "data" / "prodlens.db").is_file()


async def test_failed_request_rolls_back_work_done_in_a_savepoint(
    make_settings: SettingsFactory,
) -> None:
    """Released savepoints stay part of the request's transaction (the SQLite driver's own
    transaction handling would have committed one opened before any write)."""
    app = create_app(make_settings())

    @app.post("/api/v1/_test/nested/{body}")
    async def nested(body: str, session: SessionDep) -> None:
        async with session.begin_nested():
            await session.execute(text("INSERT INTO test_notes (body) VALUES (:b)"), {"b": body})
        raise Refused("refused after the savepoint")

    async with serving(app) as client:
        async with app.state.database.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE test_notes (body VARCHAR(50) PRIMARY KEY)"))
        assert (await client.post("/api/v1/_test/nested/kept?")).status_code == 409
        async with app.state.database.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM test_notes"))).scalar()
    assert rows == 0


async def test_durable_write_lands_when_the_request_fails(notes: httpx.AsyncClient) -> None:
    """A failed login's audit event must stay although its request rolls back; on SQLite
    this write waits for the request's write lock, so it runs after the request ends."""
    response = await notes.post("/api/v1/_test/kept-notes/audit", params={"fail": True})
    assert response.status_code == 409
    assert (await notes.get("/api/v1/_test/notes")).json() == ["audit"]

    assert (await notes.post("/api/v1/_test/kept-notes/ok")).status_code == 200
    assert (await notes.get("/api/v1/_test/notes")).json() == ["audit", "ok", "ok-request"]


async def test_durable_write_lands_when_the_commit_fails(notes: httpx.AsyncClient) -> None:
    response = await notes.post("/api/v1/_test/orphans/audit")
    assert response.status_code == 500
    assert response.json()["code"] == "internal.error"
    assert (await notes.get("/api/v1/_test/notes")).json() == ["audit"]
    # The failed transaction did not go back to the pool open (on SQLite it would hold
    # the write lock, and this write would wait out the busy timeout and fail).
    assert (await notes.post("/api/v1/_test/notes/next")).status_code == 200


async def test_failed_durable_write_does_not_change_the_answer(notes: httpx.AsyncClient) -> None:
    assert (await notes.post("/api/v1/_test/notes/audit")).status_code == 200
    # The durable insert violates the primary key: logged, and the request's 409 stands.
    response = await notes.post("/api/v1/_test/kept-notes/audit", params={"fail": True})
    assert response.status_code == 409
    assert response.json()["code"] == "test.refused"
    assert (await notes.get("/api/v1/_test/notes")).json() == ["audit"]


async def test_custom_plans_last_for_the_transaction(postgres_stack: Stack, tmp_path: Path) -> None:
    """The KPI queries ask PostgreSQL for custom plans, for their own transaction only."""
    database = Database(settings_for(postgres_stack, tmp_path))
    try:
        async with database.sessionmaker() as session:
            show = text("SHOW plan_cache_mode")
            assert (await session.execute(show)).scalar() == "auto"
            await plan_for_actual_parameters(session)
            assert (await session.execute(show)).scalar() == "force_custom_plan"
            await session.commit()
            assert (await session.execute(show)).scalar() == "auto"
    finally:
        await database.dispose()
