"""Writing and reading the audit log of security events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit.models import AuditEvent
from prodlens.kit.client import ClientInfo
from prodlens.kit.db import even_if_rolled_back


def _event(
    event_type: str,
    *,
    at: datetime,
    client: ClientInfo | None = None,
    user_id: str | None = None,
    actor_id: str | None = None,
    identifier: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent(
        event_type=event_type,
        occurred_at=at,
        user_id=user_id,
        actor_id=actor_id,
        identifier=identifier[:320] if identifier else None,
        ip=client.ip if client else None,
        user_agent=client.user_agent[:512] if client and client.user_agent else None,
        details=details or {},
    )


def record(session: AsyncSession, event_type: str, **fields: Any) -> None:
    """Add an event to the current transaction: it lands only if the request succeeds.

    Fields are those of `_event`: at, client, user_id, actor_id, identifier, details.
    """
    session.add(_event(event_type, **fields))


def record_even_if_rolled_back(session: AsyncSession, event_type: str, **fields: Any) -> None:
    """Record an event that lands whatever the request's outcome, for outcomes answered
    with an error (a failed login rolls its request back, but its audit event must stay)."""
    event = _event(event_type, **fields)

    async def write(separate: AsyncSession) -> None:
        separate.add(event)

    even_if_rolled_back(session, write)


def query(
    *,
    user_id: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEvent]:
    statement = select(AuditEvent)
    if user_id:
        statement = statement.where(AuditEvent.user_id == user_id)
    if event_type:
        statement = statement.where(AuditEvent.event_type == event_type)
    if since:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until:
        statement = statement.where(AuditEvent.occurred_at < until)
    return statement
