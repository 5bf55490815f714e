"""`/api/v1/audit`: the security audit log, admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from prodlens.audit import service
from prodlens.audit.models import AuditEvent
from prodlens.audit.schemas import AuditEventPublic
from prodlens.auth.deps import AdminUser
from prodlens.auth.errors import AdminRequired, NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.errors import problem_responses
from prodlens.kit.pagination import InvalidSort, Page, PageDep, Sorting, paginate_sorted

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=InstrumentedRoute)

SORTING = Sorting(
    {"occurred_at": AuditEvent.occurred_at, "event_type": AuditEvent.event_type},
    default="-occurred_at",
    tiebreaker=AuditEvent.id,
)


@router.get(
    "",
    response_model=Page[AuditEventPublic],
    summary="Security events, newest first (filter by user, type, time)",
    responses=problem_responses(NotAuthenticated, AdminRequired, InvalidSort),
)
async def list_audit_events(
    admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    user_id: str | None = None,
    event_type: Annotated[str | None, Query(max_length=64, examples=["login.failure"])] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: str | None = None,
) -> Page[AuditEventPublic]:
    statement = service.query(user_id=user_id, event_type=event_type, since=since, until=until)
    return await paginate_sorted(
        session, statement, page, sort=sort, sorting=SORTING, item=AuditEventPublic.model_validate
    )
