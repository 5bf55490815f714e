"""Database engine, the per-request session and the declarative base.

One request is one transaction: `SessionDep` opens a session, commits after
the route function returns and rolls back if it raises. The commit happens
before the response is sent (dependency scope "function"), so a 2xx answer
means the data is durable. Services `flush`; they never `commit`.

Writes that must stay even when the request fails (a failed login's audit
event) go through `even_if_rolled_back`: they run in their own transaction
once the request's transaction has ended. Running them beside it instead
would deadlock on SQLite, where a write request holds the write lock from
its first statement until it ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

import structlog
from fastapi import Depends, Request
from sqlalchemy import DateTime, Dialect, MetaData, Table, TypeDecorator, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, PoolResetState

from prodlens.config import Settings
from prodlens.kit.availability import MIN_FREE_BYTES, Outage, free_bytes
from prodlens.kit.tasks import TaskRunner
from prodlens.observability import metrics

# Stable constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use kit.clock for the current time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime}  # noqa: RUF012 (SQLAlchemy's declared hook)


DialectInsert = postgresql.Insert | sqlite.Insert


def dialect_insert(session: AsyncSession, model: type[Base]) -> DialectInsert:
    """INSERT into `model`'s table with the session's dialect's ON CONFLICT clauses
    (PostgreSQL and SQLite spell them alike).

    On the Table, not the mapped class: a Core statement, which skips the ORM's
    bulk-insert path when executed with a list of parameter sets."""
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring_conflicts(
    session: AsyncSession, model: type[Base], *, index_elements: Sequence[str]
) -> DialectInsert:
    """INSERT ... ON CONFLICT (index_elements) DO NOTHING: a row already there (a retry,
    a replay, a concurrent writer's) is skipped, and RETURNING yields only new rows."""
    return dialect_insert(session, model).on_conflict_do_nothing(
        index_elements=list(index_elements)
    )


log = structlog.get_logger(__name__)

AfterCommit = Callable[[], Coroutine[Any, Any, None]]
DurableWrite = Callable[[AsyncSession], Awaitable[None]]

_DURABLE = "durable_writes"


def after_commit(session: AsyncSession, work: AfterCommit) -> None:
    """Run `work` in the background once this request's transaction has committed."""
    session.info.setdefault("after_commit", []).append(work)


def even_if_rolled_back(session: AsyncSession, write: DurableWrite) -> None:
    """Commit `write` in its own transaction once this request's transaction has ended,
    whether it committed or rolled back; the response waits for it."""
    pending = session.info.get(_DURABLE)
    if pending is None:
        raise RuntimeError("even_if_rolled_back needs the request session (SessionDep)")
    pending.append(write)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would commit when a SAVEPOINT opened before
    # any write is released; with it off, SQLAlchemy emits BEGIN itself (see `_begin`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed during a write; the busy timeout waits out a writer
    # instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


WRITE_INTENT = "prodlens_write"


def _begin(connection: Connection) -> None:
    # A write transaction takes SQLite's write lock at BEGIN, so concurrent writers wait
    # (busy timeout) instead of failing with "database is locked" when upgrading.
    immediate = connection.get_execution_options().get(WRITE_INTENT, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _end_failed_commit(
    dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState
) -> None:
    # SQLite keeps the transaction open when its COMMIT fails (a deferred constraint, a
    # full disk), but SQLAlchemy counts it as ended and skips the pool's rollback: the
    # connection would go back to the pool holding the write lock.
    driver = record.driver_connection  # the aiosqlite connection
    if (
        state.asyncio_safe
        and state.transaction_was_reset
        and getattr(driver, "in_transaction", False)
    ):
        dbapi_connection.rollback()


def _observe_queries(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _start(conn: Connection, *_args: Any) -> None:
        conn.info.setdefault("query_started", []).append(time.perf_counter())

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _stop(conn: Connection, *_args: Any) -> None:
        started = conn.info["query_started"].pop()
        metrics.DB_QUERIES.inc()
        metrics.DB_QUERY_DURATION.observe(time.perf_counter() - started)

    @event.listens_for(sync_engine, "handle_error")
    def _error(_context: Any) -> None:
        metrics.DB_ERRORS.inc()

    @event.listens_for(sync_engine.pool, "checkout")
    def _checkout(*_args: Any) -> None:
        metrics.DB_POOL_CHECKED_OUT.inc()

    @event.listens_for(sync_engine.pool, "checkin")
    def _checkin(*_args: Any) -> None:
        metrics.DB_POOL_CHECKED_OUT.dec()


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of a file-based SQLite database (e.g. `./var/`)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _postgres_connect_args(settings: Settings) -> dict[str, Any]:
    # Nothing waits unbounded: the server cancels a statement after `statement_timeout`;
    # the driver gives up a little later (no answer at all: the network is gone), and on
    # a connection that does not open within `connect_timeout`.
    statement_ms = int(settings.db.statement_timeout * 1000)
    return {
        "timeout": settings.db.connect_timeout,
        "command_timeout": settings.db.statement_timeout + 0.5,
        "server_settings": {"statement_timeout": str(statement_ms)},
    }


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        ensure_sqlite_directory(settings.database_url)
        engine = create_async_engine(settings.database_url, echo=settings.db.echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin)
        event.listen(engine.sync_engine.pool, "reset", _end_failed_commit)
    else:
        engine = create_async_engine(
            settings.database_url,
            echo=settings.db.echo,
            pool_size=settings.db.pool_size,
            max_overflow=settings.db.max_overflow,
            pool_timeout=settings.db.pool_timeout,
            pool_recycle=settings.db.pool_recycle,
            pool_pre_ping=settings.db.pool_pre_ping,
            connect_args=_postgres_connect_args(settings),
        )
    _observe_queries(engine)
    return engine


def _watch_outages(engine: AsyncEngine, outage: Outage) -> None:
    """Open the outage on the first error that says the database is gone; while it is
    open, connect attempts fail at once and pooled connections are dropped unused (a
    pre-ping on a dead network would wait out the statement timeout each)."""
    sync_engine = engine.sync_engine

    def _failed_with(error: BaseException) -> None:
        was_open = outage.is_open
        verdict = outage.observe(error)
        if verdict is not None and verdict.outage and not was_open:
            sync_engine.dispose(close=False)

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: ExceptionContext) -> None:
        _failed_with(context.original_exception)

    @event.listens_for(sync_engine.pool, "invalidate")
    def _dropped(dbapi_connection: Any, _record: Any, error: BaseException | None) -> None:
        if isinstance(error, TimeoutError):
            # No answer in time (a pre-ping or a statement): the network is gone, and
            # the driver's graceful close would wait two more seconds for a reply.
            driver = getattr(dbapi_connection, "driver_connection", None)
            if driver is not None and hasattr(driver, "terminate"):
                driver.terminate()
            _failed_with(error)

    if engine.dialect.name == "sqlite":
        return  # SQLite reads go on through a write outage

    @event.listens_for(sync_engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        if outage.is_open:
            raise outage.unavailable()


def _sqlite_directory(url: str) -> str | None:
    database = make_url(url).database
    if make_url(url).get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return str(Path(database).resolve().parent)


def storage_problem(directory: str | None) -> str | None:
    """Why SQLite's writes would fail now (its volume full or read-only), else None."""
    if directory is None:
        return None
    free, read_only = free_bytes(directory)
    if read_only:
        return "the data directory's volume is read-only"
    if free < MIN_FREE_BYTES:
        return f"the data directory's volume is full ({free} bytes free)"
    return None


async def _write_probe(engine: AsyncEngine, directory: str | None) -> None:
    """SQLite: room on the volume, and a real write."""
    if problem := storage_problem(directory):
        raise OSError(problem)
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{WRITE_INTENT: True})
        await conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
        await conn.commit()


class Database:
    """The engine and its session factory, owned by the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self._pool_size = 0 if settings.is_sqlite else settings.db.pool_size
        metrics.DB_POOL_SIZE.inc(self._pool_size)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.health_timeout = settings.db.health_timeout
        self.sqlite_directory = _sqlite_directory(settings.database_url)
        self._probe_engine: AsyncEngine | None = None
        if not settings.is_sqlite:
            # Outside the gated pool: the one way in while an outage is open.
            self._probe_engine = create_async_engine(
                settings.database_url,
                poolclass=NullPool,
                connect_args=_postgres_connect_args(settings),
            )
        self.outage = Outage(
            self.backend, self._probe, retry_after=settings.db.unavailable_retry_after
        )
        _watch_outages(self.engine, self.outage)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def _probe(self) -> None:
        async with asyncio.timeout(self.health_timeout):
            if self._probe_engine is None:
                await _write_probe(self.engine, self.sqlite_directory)
                return
            async with self._probe_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

    def storage_problem(self) -> str | None:
        """Why writes would fail now (SQLite's volume full or read-only), else None."""
        return storage_problem(self.sqlite_directory)

    async def current_revision(self) -> str | None:
        """The Alembic revision stored in the database; raises if unreachable."""
        async with asyncio.timeout(self.health_timeout), self.engine.connect() as conn:
            has_table = await conn.run_sync(
                lambda sync: sync.dialect.has_table(sync, "alembic_version")
            )
            if not has_table:
                return None
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return result.scalar_one_or_none()

    def pool_status(self) -> dict[str, int]:
        pool = self.engine.pool
        status: dict[str, int] = {}
        for name in ("size", "checkedout", "overflow", "checkedin"):
            getter = getattr(pool, name, None)
            if callable(getter):
                status[name] = int(getter())
        return status

    async def dispose(self) -> None:
        await self.outage.stop()
        await self.engine.dispose()
        if self._probe_engine is not None:
            await self._probe_engine.dispose()
        metrics.DB_POOL_SIZE.dec(self._pool_size)


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    # The whole body first (Starlette keeps it for the route, its form and JSON readers):
    # a client sending it slowly must not hold a transaction, on SQLite the write lock
    # every other writer waits for, while it trickles in.
    await request.body()
    async with database.sessionmaker() as session:
        session.info[_DURABLE] = []
        if request.method not in _SAFE_METHODS and database.backend == "sqlite":
            await session.connection(execution_options={WRITE_INTENT: True})
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
            tasks: TaskRunner = request.app.state.tasks
            for work in session.info.pop("after_commit", []):
                tasks.spawn(work(), name=getattr(work, "__name__", "work"))
        finally:
            # Also when the commit itself fails. Closing first ends the request's
            # transaction, whatever state it is in, and frees SQLite's write lock.
            if durable := session.info.pop(_DURABLE):
                await session.close()
                await _write_durable(database, durable)


async def _write_durable(database: Database, writes: list[DurableWrite]) -> None:
    for write in writes:
        # One transaction each: a failing write must not take the others with it, nor
        # replace the request's own outcome.
        try:
            async with database.sessionmaker() as session, session.begin():
                if database.backend == "sqlite":
                    await session.connection(execution_options={WRITE_INTENT: True})
                await write(session)
        except Exception:
            log.exception("durable_write_failed")


async def plan_for_actual_parameters(session: AsyncSession) -> None:
    """Have PostgreSQL plan this transaction's queries for the parameters they run with.

    asyncpg prepares every statement, and after five runs PostgreSQL may switch to a
    generic plan; for the KPI aggregates over a time window that plan cost about 1.25x
    the CPU of custom ones (bench/bench_kpi_plans.py). Other backends: nothing to do.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
