"""Alembic environment: async engine, one history for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import prodlens.model_registry  # noqa: F401  (fills Base.metadata)
from prodlens.config import Settings
from prodlens.kit.db import Base, UtcDateTime, ensure_sqlite_directory

config = context.config
database_url: str = config.attributes.get("database_url") or Settings().database_url
target_metadata = Base.metadata


def _render_item(kind: str, obj: object, _context: object) -> str | bool:
    # Migrations stay self-contained: our column types are written as plain SQLAlchemy ones.
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: object) -> None:
    # Batch mode turns ALTERs into SQLite-compatible table copies and is a no-op on PostgreSQL.
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=database_url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    ensure_sqlite_directory(database_url)
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
