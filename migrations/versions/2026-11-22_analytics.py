"""analytics

Revision ID: 37a1b9c71418
Revises: a142ceafc8ee
Create Date: 2026-11-22 11:56:49.311316
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "37a1b9c71418"
down_revision: str | None = "a142ceafc8ee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commits",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("additions", sa.Integer(), nullable=True),
        sa.Column("deletions", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_commits_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commits")),
        sa.UniqueConstraint("project_id", "repo", "sha", name=op.f("uq_commits_project_id")),
    )
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commits_project_committed", ["project_id", "committed_at"], unique=False
        )

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("developer_id", sa.String(length=128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=64), nullable=True),
        sa.Column("request_model", sa.String(length=128), nullable=True),
        sa.Column("response_model", sa.String(length=128), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_creation_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=18, scale=8), nullable=True),
        sa.Column("cost_source", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error_type", sa.String(length=128), nullable=True),
        sa.Column("finish_reason", sa.String(length=64), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.Column("lines_suggested", sa.Integer(), nullable=True),
        sa.Column("lines_accepted", sa.Integer(), nullable=True),
        sa.Column("repo", sa.String(length=200), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_events_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("project_id", "event_id", name=op.f("uq_events_project_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_project_developer_started",
            ["project_id", "developer_id", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_events_project_model_started",
            ["project_id", "response_model", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_events_project_session", ["project_id", "session_id"], unique=False
        )
        batch_op.create_index(
            "ix_events_project_started", ["project_id", "started_at"], unique=False
        )

    op.create_table(
        "llm_sessions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("developer_id", sa.String(length=128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_llm_sessions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_sessions")),
        sa.UniqueConstraint("project_id", "session_id", name=op.f("uq_llm_sessions_project_id")),
    )
    with op.batch_alter_table("llm_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_llm_sessions_project_developer",
            ["project_id", "developer_id", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_llm_sessions_project_started", ["project_id", "started_at"], unique=False
        )

    op.create_table(
        "pull_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pull_requests_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_requests")),
        sa.UniqueConstraint(
            "project_id", "repo", "number", name=op.f("uq_pull_requests_project_id")
        ),
    )
    with op.batch_alter_table("pull_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pull_requests_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_pull_requests_project_merged", ["project_id", "merged_at"], unique=False
        )

    op.create_table(
        "rollups_daily",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("developer_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_creation_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("lines_suggested", sa.Integer(), nullable=False),
        sa.Column("lines_accepted", sa.Integer(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("latency_b0", sa.Integer(), nullable=False),
        sa.Column("latency_b1", sa.Integer(), nullable=False),
        sa.Column("latency_b2", sa.Integer(), nullable=False),
        sa.Column("latency_b3", sa.Integer(), nullable=False),
        sa.Column("latency_b4", sa.Integer(), nullable=False),
        sa.Column("latency_b5", sa.Integer(), nullable=False),
        sa.Column("latency_b6", sa.Integer(), nullable=False),
        sa.Column("latency_b7", sa.Integer(), nullable=False),
        sa.Column("latency_b8", sa.Integer(), nullable=False),
        sa.Column("latency_b9", sa.Integer(), nullable=False),
        sa.Column("latency_b10", sa.Integer(), nullable=False),
        sa.Column("latency_b11", sa.Integer(), nullable=False),
        sa.Column("latency_b12", sa.Integer(), nullable=False),
        sa.Column("latency_b13", sa.Integer(), nullable=False),
        sa.Column("latency_b14", sa.Integer(), nullable=False),
        sa.Column("latency_b15", sa.Integer(), nullable=False),
        sa.Column("latency_b16", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_rollups_daily_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "period_start", "developer_id", "model", name=op.f("pk_rollups_daily")
        ),
    )
    op.create_table(
        "rollups_hourly",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("developer_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_creation_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("lines_suggested", sa.Integer(), nullable=False),
        sa.Column("lines_accepted", sa.Integer(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("latency_b0", sa.Integer(), nullable=False),
        sa.Column("latency_b1", sa.Integer(), nullable=False),
        sa.Column("latency_b2", sa.Integer(), nullable=False),
        sa.Column("latency_b3", sa.Integer(), nullable=False),
        sa.Column("latency_b4", sa.Integer(), nullable=False),
        sa.Column("latency_b5", sa.Integer(), nullable=False),
        sa.Column("latency_b6", sa.Integer(), nullable=False),
        sa.Column("latency_b7", sa.Integer(), nullable=False),
        sa.Column("latency_b8", sa.Integer(), nullable=False),
        sa.Column("latency_b9", sa.Integer(), nullable=False),
        sa.Column("latency_b10", sa.Integer(), nullable=False),
        sa.Column("latency_b11", sa.Integer(), nullable=False),
        sa.Column("latency_b12", sa.Integer(), nullable=False),
        sa.Column("latency_b13", sa.Integer(), nullable=False),
        sa.Column("latency_b14", sa.Integer(), nullable=False),
        sa.Column("latency_b15", sa.Integer(), nullable=False),
        sa.Column("latency_b16", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_rollups_hourly_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "period_start", "developer_id", "model", name=op.f("pk_rollups_hourly")
        ),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_webhook_deliveries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("rollups_hourly")
    op.drop_table("rollups_daily")
    with op.batch_alter_table("pull_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_pull_requests_project_merged")
        batch_op.drop_index("ix_pull_requests_project_created")

    op.drop_table("pull_requests")
    with op.batch_alter_table("llm_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_sessions_project_started")
        batch_op.drop_index("ix_llm_sessions_project_developer")

    op.drop_table("llm_sessions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_project_started")
        batch_op.drop_index("ix_events_project_session")
        batch_op.drop_index("ix_events_project_model_started")
        batch_op.drop_index("ix_events_project_developer_started")

    op.drop_table("events")
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.drop_index("ix_commits_project_committed")

    op.drop_table("commits")
