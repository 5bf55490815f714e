from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from prodlens.kit.schemas import Strict


class PlanPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    requests_per_hour: int | None = Field(description="null: unlimited.")
    description: str
    updated_at: datetime


class PlanUpdate(Strict):
    requests_per_hour: int | None = Field(
        None, ge=1, le=10_000_000, description="null: unlimited; absent: unchanged."
    )
    description: str | None = Field(None, max_length=200)


class UsageWindow(BaseModel):
    limit: int | None = Field(description="Requests allowed in the window; null: unlimited.")
    used: int
    remaining: int | None
    resets_in_seconds: int


class Usage(BaseModel):
    plan: str
    hourly: UsageWindow = Field(description="The plan's budget, per hour.")
    per_minute: UsageWindow = Field(description="The general per-client limit.")
