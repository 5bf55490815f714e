"""Subscription plans: how many requests an hour each tier may make."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from prodlens.kit.db import Base


class Plan(Base):
    __tablename__ = "plans"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    requests_per_hour: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    description: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime]
