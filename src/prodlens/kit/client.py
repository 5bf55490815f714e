"""Where a request came from, as recorded in audit events and sessions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None
