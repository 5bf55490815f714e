"""Usage events (one per model call), LLM sessions, rollups, latency sketches, and
delivery data.

Prompt and completion text is never stored: only usage metadata.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from prodlens.kit.db import Base

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Money = Numeric(18, 8)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id"),
        Index("ix_events_project_started", "project_id", "started_at"),
        Index("ix_events_project_developer_started", "project_id", "developer_id", "started_at"),
        Index("ix_events_project_session", "project_id", "session_id"),
        Index("ix_events_project_model_started", "project_id", "response_model", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(128))
    developer_id: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    provider: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(64))
    request_model: Mapped[str | None] = mapped_column(String(128))
    response_model: Mapped[str | None] = mapped_column(String(128))
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_creation_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Money)
    cost_source: Mapped[str | None] = mapped_column(String(16))  # reported | estimated
    # ok | error | refused (turned away before any model call: a proxy's unknown model
    # or wrong key; counted apart, outside the error rate)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    http_status: Mapped[int | None] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(128))
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    accepted: Mapped[bool | None] = mapped_column(Boolean)
    lines_suggested: Mapped[int | None] = mapped_column(Integer)
    lines_accepted: Mapped[int | None] = mapped_column(Integer)
    repo: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16))  # native | litellm | otlp | jsonl
    ingested_at: Mapped[datetime]


class LlmSession(Base):
    """A working session of model calls, kept up to date at ingest (lists, detail, KPIs)."""

    __tablename__ = "llm_sessions"
    __table_args__ = (
        UniqueConstraint("project_id", "session_id"),
        Index("ix_llm_sessions_project_started", "project_id", "started_at"),
        Index("ix_llm_sessions_project_developer", "project_id", "developer_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(128))
    developer_id: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    events: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Money, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0)


# The additive counters of a rollup row.
ROLLUP_COUNTERS = (
    "events",
    "errors",
    "refused",
    "accepted",
    "rejected",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "total_tokens",
    "cost_usd",
    "lines_suggested",
    "lines_accepted",
    "latency_count",
    "latency_ms_sum",
)


class _RollupColumns:  # a declarative mixin: SQLAlchemy copies these into each table
    """Additive counters per (project, period, developer, model): KPIs sum these."""

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    developer_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when unknown
    model: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when unknown
    events: Mapped[int] = mapped_column(Integer, default=0)  # model calls (not refused ones)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)  # requests with no model call
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_creation_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Money, default=0)
    lines_suggested: Mapped[int] = mapped_column(Integer, default=0)
    lines_accepted: Mapped[int] = mapped_column(Integer, default=0)
    latency_count: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0)


class HourlyRollup(_RollupColumns, Base):
    __tablename__ = "rollups_hourly"


class DailyRollup(_RollupColumns, Base):
    __tablename__ = "rollups_daily"


class _SketchColumns:  # a declarative mixin, as above
    """Calls per latency (or time-to-first-token) bin per (project, period, developer,
    model): one row per bin, so concurrent batches add to it with an upsert, and
    percentiles of any window or filter sum these (analytics/sketches.py)."""

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    developer_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when unknown
    model: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when unknown
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # latency | ttft
    bin: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class HourlySketch(_SketchColumns, Base):
    __tablename__ = "latency_sketches_hourly"
    # SQLite: the primary key is the table, no second (rowid) B-tree to keep up at ingest.
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy's hook)


class DailySketch(_SketchColumns, Base):
    __tablename__ = "latency_sketches_daily"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (as above)


class Commit(Base):
    __tablename__ = "commits"
    __table_args__ = (
        UniqueConstraint("project_id", "repo", "sha"),
        Index("ix_commits_project_committed", "project_id", "committed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    repo: Mapped[str] = mapped_column(String(200))
    sha: Mapped[str] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(500), default="")  # first line only
    committed_at: Mapped[datetime]
    additions: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)


class PullRequest(Base):
    __tablename__ = "pull_requests"
    __table_args__ = (
        UniqueConstraint("project_id", "repo", "number"),
        Index("ix_pull_requests_project_merged", "project_id", "merged_at"),
        Index("ix_pull_requests_project_created", "project_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    repo: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300), default="")
    author: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))  # open | closed | merged
    created_at: Mapped[datetime]
    merged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """Delivery ids already processed: a replayed webhook changes nothing."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_project_received", "project_id", "received_at"),)

    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]


class DeveloperIdentity(Base):
    """An identity a source reports for a person (an email, a GitHub login, a LiteLLM
    user, an OpenTelemetry `user.*` attribute), linked to the developer it belongs to.

    Events and rollups keep the identity each source sent; reads map identities to
    developers (`analytics/identities.py`), so a link or an unlink applies to all
    past data at once and can always be undone.
    """

    __tablename__ = "developer_identities"
    __table_args__ = (
        UniqueConstraint("project_id", "identity"),
        Index("ix_developer_identities_developer", "project_id", "developer_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(128))  # as events carry it in developer_id
    developer_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # email | github | litellm | otel | other
    linked_by: Mapped[str | None] = mapped_column(  # None: linked automatically
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class AssistantDaily(Base):
    """What a coding assistant reports about itself, per day and developer: Claude
    Code's OpenTelemetry metrics and events, OpenTelemetry GenAI metrics, GitHub
    Copilot's usage reports. One additive value per (source, metric, dimensions);
    `dimensions` is a canonical "key=value;key=value" string ("" for none), e.g.
    "feature=code_completion;ide=vscode;language=python;model=default"."""

    __tablename__ = "assistant_daily"
    __table_args__ = (
        Index("ix_assistant_daily_project_source_day", "project_id", "source", "day"),
    )

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    developer_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when unknown
    # claude_code | copilot | otel
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimensions: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0)
    updated_at: Mapped[datetime]


class OtlpCumulativePoint(Base):
    """The last value of each cumulative OTLP metric stream, so a cumulative counter
    adds only its increase since the previous export (a restart of the sender starts
    a new stream: a new start time). `seen_at` is the last point's own time, so a
    re-sent or stale point adds nothing. Log records that carry facts are streams
    too, seen once each, so a re-sent log export counts them once
    (`ingest/otlp_metrics.py`)."""

    __tablename__ = "otlp_cumulative_points"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)  # hash of name + attributes
    start_unix_nano: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[datetime]
