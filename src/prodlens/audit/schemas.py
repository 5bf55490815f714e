from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    occurred_at: datetime
    event_type: str
    user_id: str | None
    actor_id: str | None
    identifier: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
