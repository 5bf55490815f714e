"""One migration history, identical on SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import prodlens.model_registry  # noqa: F401  (fills Base.metadata)
from prodlens.kit.db import Base
from prodlens.kit.migrations import alembic_config, head_revisions
from tests.conftest import Stack


async def _differences(url: str) -> list[object]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()


async def _revision(url: str) -> str | None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            context = await conn.run_sync(MigrationContext.configure)
            return await conn.run_sync(lambda _: context.get_current_revision())
    finally:
        await engine.dispose()


def test_migrated_schema_matches_the_models(stack: Stack) -> None:
    assert asyncio.run(_differences(stack.database_url)) == []


def test_downgrade_to_base_and_back(stack: Stack) -> None:
    config = alembic_config(stack.database_url)
    command.downgrade(config, "base")
    assert asyncio.run(_revision(stack.database_url)) is None
    command.upgrade(config, "head")
    assert asyncio.run(_revision(stack.database_url)) in head_revisions()
    assert asyncio.run(_differences(stack.database_url)) == []


def test_one_head() -> None:
    assert len(head_revisions()) == 1
