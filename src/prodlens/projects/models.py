"""Projects, their members, work items and machine API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prodlens.kit.db import Base
from prodlens.kit.ids import new_id


class ProjectRole(StrEnum):
    VIEWER = "viewer"
    MAINTAINER = "maintainer"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {ProjectRole.VIEWER: 1, ProjectRole.MAINTAINER: 2, ProjectRole.OWNER: 3}


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class ItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class KeyScope(StrEnum):
    INGEST = "ingest"
    READ = "read"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=ProjectStatus.ACTIVE, index=True)
    repos: Mapped[list[str]] = mapped_column(JSON, default=list)  # "owner/name"
    # Models the team may use; the compliance KPI measures calls against it. Empty: any.
    allowed_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class ProjectMember(Base):
    __tablename__ = "project_members"
    __table_args__ = (Index("ix_project_members_user_project", "user_id", "project_id"),)

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime]


class WorkItem(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        # One per sortable column, so page 1 walks an index whatever the order.
        Index("ix_work_items_project_created", "project_id", "created_at"),
        Index("ix_work_items_project_updated", "project_id", "updated_at"),
        Index("ix_work_items_project_title", "project_id", "title"),
        Index("ix_work_items_project_done", "project_id", "done_at"),
        Index("ix_work_items_project_status", "project_id", "status", "created_at"),
        Index("ix_work_items_project_assignee", "project_id", "assignee_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.OPEN)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    linked_pr: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]

    labels: Mapped[list[WorkItemLabel]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="WorkItemLabel.label"
    )


class WorkItemLabel(Base):
    """One label of an item: a table, so label filters are indexed on any database."""

    __tablename__ = "work_item_labels"
    __table_args__ = (Index("ix_work_item_labels_label", "label", "item_id"),)

    item_id: Mapped[str] = mapped_column(
        ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(50), primary_key=True)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("prefix"), Index("ix_api_keys_project", "project_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
