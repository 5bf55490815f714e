"""assistant sources: identities, assistants' own daily facts, refused requests

- `developer_identities`: the identities sources report (email, GitHub login,
  LiteLLM user, OpenTelemetry user attributes) linked to one developer.
- `assistant_daily`: daily per-developer facts from Claude Code, OpenTelemetry
  GenAI metrics and GitHub Copilot usage reports.
- `otlp_cumulative_points`: the last value of each cumulative OTLP metric stream.
- `refused` on both rollups: requests turned away before a model call, counted
  apart from calls and their errors (no stored event is refused yet: 0 is exact).

Revision ID: e4f6a8b0c2d4
Revises: c3d5e7f90a12
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4f6a8b0c2d4"
down_revision: str | None = "c3d5e7f90a12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _project() -> sa.Column[str]:
    return sa.Column(
        "project_id",
        sa.String(length=36),
        sa.ForeignKey("projects.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "developer_identities",
        sa.Column("id", sa.String(length=36), nullable=False),
        _project(),
        sa.Column("identity", sa.String(length=128), nullable=False),
        sa.Column("developer_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "linked_by",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "identity"),
    )
    op.create_index(
        "ix_developer_identities_developer",
        "developer_identities",
        ["project_id", "developer_id"],
    )
    op.create_table(
        "assistant_daily",
        _project(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("developer_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("dimensions", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "day", "developer_id", "source", "metric", "dimensions"
        ),
    )
    op.create_index(
        "ix_assistant_daily_project_source_day",
        "assistant_daily",
        ["project_id", "source", "day"],
    )
    op.create_table(
        "otlp_cumulative_points",
        _project(),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("start_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "stream"),
    )
    for table in ("rollups_hourly", "rollups_daily"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("refused", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in ("rollups_hourly", "rollups_daily"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("refused")
    op.drop_table("otlp_cumulative_points")
    op.drop_index("ix_assistant_daily_project_source_day", table_name="assistant_daily")
    op.drop_table("assistant_daily")
    op.drop_index("ix_developer_identities_developer", table_name="developer_identities")
    op.drop_table("developer_identities")
