"""latency sketches

Percentiles from DDSketch-style bins (analytics/sketches.py) in two new tables,
rebuilt from `events`, in place of the 17 latency bucket columns of the rollups.
Events are never deleted, so rebuilding from them is complete; they are read in
chunks of event ids, so memory stays bounded whatever the table's size.

Revision ID: c3d5e7f90a12
Revises: 9fda26ced4de
Create Date: 2026-12-01 12:00:00.000000
"""

import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from ddsketch.mapping import LogarithmicMapping
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

revision: str = "c3d5e7f90a12"
down_revision: str | None = "9fda26ced4de"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 20_000  # events read at a time

# The bins of analytics/sketches.py as of this revision, frozen here so the migration
# keeps meaning what it meant (tests/kit/test_migration_latency_sketches.py checks they
# agree with the code's).
_MAPPING = LogarithmicMapping(0.01)
_MIN_MS, _MAX_MS = 1.0, 86_400_000.0
_LOW_BIN, _TOP_BIN = _MAPPING.key(_MIN_MS) - 1, _MAPPING.key(_MAX_MS)

# The bucket columns this revision drops: upper edges in ms, one open-ended bucket more.
_EDGES_MS = (
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
_BUCKETS = tuple(f"latency_b{i}" for i in range(len(_EDGES_MS) + 1))

_ROLLUPS = {"hour": "rollups_hourly", "day": "rollups_daily"}
_SKETCHES = {"hour": "latency_sketches_hourly", "day": "latency_sketches_daily"}
_ROLLUP_KEY = ("project_id", "period_start", "developer_id", "model")
_SKETCH_KEY = (*_ROLLUP_KEY, "kind", "bin")

_events = sa.table(
    "events",
    sa.column("id", sa.Integer()),
    sa.column("project_id", sa.String()),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("developer_id", sa.String()),
    sa.column("response_model", sa.String()),
    sa.column("latency_ms", sa.Float()),
    sa.column("ttft_ms", sa.Float()),
)


def _key_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("developer_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
    ]


def _typed(column: str) -> sa.ColumnClause[Any]:
    # Typed, so values are written as the models write them (SQLite: one datetime format).
    if column == "period_start":
        return sa.column(column, sa.DateTime(timezone=True))
    text = column in {"project_id", "developer_id", "model", "kind"}
    return sa.column(column, sa.String() if text else sa.Integer())


def _sketch_table(name: str) -> sa.TableClause:
    return sa.table(name, *(_typed(column) for column in (*_SKETCH_KEY, "count")))


def _bin(value_ms: float) -> int:
    return _LOW_BIN if value_ms < _MIN_MS else min(_MAPPING.key(value_ms), _TOP_BIN)


def _period(started_at: datetime, unit: str) -> datetime:
    if started_at.tzinfo is not None:
        started_at = started_at.astimezone(UTC)
    hour = started_at.replace(minute=0, second=0, microsecond=0)
    return hour if unit == "hour" else hour.replace(hour=0)


def _event_chunks(bind: Connection) -> Iterator[Sequence[Row[Any]]]:
    """Events with a latency or a time to first token, CHUNK at a time, by id."""
    last = None
    while True:
        statement = (
            sa.select(_events)
            .where(sa.or_(_events.c.latency_ms.is_not(None), _events.c.ttft_ms.is_not(None)))
            .order_by(_events.c.id)
            .limit(CHUNK)
        )
        if last is not None:
            statement = statement.where(_events.c.id > last)
        rows = bind.execute(statement).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _group(row: Row[Any], unit: str) -> tuple[Any, ...]:
    return (
        row.project_id,
        _period(row.started_at, unit),
        row.developer_id or "",
        row.response_model or "",
    )


def _insert(bind: Connection, table: sa.TableClause) -> Any:
    return (postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert)(table)


def _rebuild_sketches(bind: Connection) -> None:
    tables = {unit: _sketch_table(name) for unit, name in _SKETCHES.items()}
    for rows in _event_chunks(bind):
        for unit, table in tables.items():
            counts: Counter[tuple[Any, ...]] = Counter()
            for row in rows:
                group = _group(row, unit)
                for kind, value in (("latency", row.latency_ms), ("ttft", row.ttft_ms)):
                    if value is not None:
                        counts[(*group, kind, _bin(value))] += 1
            insert = _insert(bind, table)
            # Chunks may meet the same bin: add to it.
            statement = insert.on_conflict_do_update(
                index_elements=list(_SKETCH_KEY),
                set_={"count": table.c.count + insert.excluded.count},
            )
            bind.execute(
                statement,
                [
                    dict(zip(_SKETCH_KEY, key, strict=True)) | {"count": n}
                    for key, n in sorted(counts.items())
                ],
            )


def _refill_buckets(bind: Connection) -> None:
    tables = {
        unit: sa.table(name, *(_typed(column) for column in (*_ROLLUP_KEY, *_BUCKETS)))
        for unit, name in _ROLLUPS.items()
    }
    statements = {
        unit: sa.update(table)
        .where(*(table.c[column] == sa.bindparam(f"k_{column}") for column in _ROLLUP_KEY))
        .values({column: table.c[column] + sa.bindparam(f"n_{column}") for column in _BUCKETS})
        for unit, table in tables.items()
    }
    for rows in _event_chunks(bind):
        for unit, statement in statements.items():
            buckets: dict[tuple[Any, ...], list[int]] = {}
            for row in rows:
                if row.latency_ms is not None:
                    counts = buckets.setdefault(_group(row, unit), [0] * len(_BUCKETS))
                    counts[bisect.bisect_left(_EDGES_MS, row.latency_ms)] += 1
            values = [
                {f"k_{column}": part for column, part in zip(_ROLLUP_KEY, key, strict=True)}
                | {f"n_{column}": n for column, n in zip(_BUCKETS, counts, strict=True)}
                for key, counts in sorted(buckets.items())
            ]
            if values:
                bind.execute(statement, values)


def upgrade() -> None:
    for name in _SKETCHES.values():
        op.create_table(
            name,
            *_key_columns(),
            sa.Column("kind", sa.String(length=8), nullable=False),
            sa.Column("bin", sa.Integer(), nullable=False),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["project_id"],
                ["projects.id"],
                name=op.f(f"fk_{name}_project_id_projects"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(*_SKETCH_KEY, name=op.f(f"pk_{name}")),
            sqlite_with_rowid=False,
        )
    _rebuild_sketches(op.get_bind())
    for name in _ROLLUPS.values():
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in _BUCKETS:
                batch_op.drop_column(column)


def downgrade() -> None:
    for name in _ROLLUPS.values():
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in _BUCKETS:
                batch_op.add_column(
                    sa.Column(column, sa.Integer(), nullable=False, server_default="0")
                )
    _refill_buckets(op.get_bind())
    for name in _ROLLUPS.values():
        # The columns had no server default before this revision.
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in _BUCKETS:
                batch_op.alter_column(column, existing_type=sa.Integer(), server_default=None)
    for name in _SKETCHES.values():
        op.drop_table(name)
