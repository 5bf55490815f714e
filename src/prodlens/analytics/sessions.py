"""Listing and reading LLM sessions.

Lists read `llm_sessions` (kept up to date at ingest), so a page costs the same
however many events a project holds; only the `model` filter and the page's
model names look at events, through the (project, session) index. Two ways to
page: numbered pages (with a total) and keyset cursors, which stay fast and
stable deep into large projects.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Float, Select, and_, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from prodlens.analytics.formulas import ratio
from prodlens.analytics.identities import IdentityMap, load_identity_map
from prodlens.analytics.models import Event, LlmSession
from prodlens.kit.errors import NotFound, ProblemError
from prodlens.kit.pagination import PageParams, order_by, paginate

# The events of one session shown in its detail; longer sessions say they are cut.
MAX_DETAIL_EVENTS = 1000


class SessionNotFound(NotFound):
    code, title = "sessions.not_found", "No such session"


class InvalidCursor(ProblemError):
    status, code, title = 400, "sessions.invalid_cursor", "Invalid pagination cursor"


# Sort keys: each a SQL expression whose value goes into the cursor. Cost and latency
# are compared as floats so the value read back and the value compared are the same
# number on both backends (NUMERIC comes back rounded to its scale on SQLite).
SORT_KEYS: dict[str, ColumnElement[Any]] = {
    "started_at": LlmSession.started_at.expression,
    "cost": cast(LlmSession.cost_usd, Float),
    "tokens": LlmSession.total_tokens.expression,
    "latency": LlmSession.latency_ms_sum / func.nullif(LlmSession.events, 0),
}
SORT_ALIASES = {"time": "started_at"}
DEFAULT_SORT = "-started_at"


# The class names are the OpenAPI schema names: `Llm…`, so no other domain's session
# (auth's sign-in sessions) shares one (tests/test_openapi.py checks names are unique).
class LlmSessionPublic(BaseModel):
    """An LLM session: the model calls that share a `session_id`."""

    session_id: str
    developer_id: str | None
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    events: int
    errors: int
    accepted: int
    rejected: int
    total_tokens: int
    cost_usd: float
    latency_ms_avg: float | None
    status: Literal["ok", "error"]
    models: list[str]


class LlmSessionList(BaseModel):
    """A page of sessions. `next_cursor` continues after the last item (keyset paging);
    `total`, `page` and `pages` are only counted in page mode (no `cursor`)."""

    items: list[LlmSessionPublic]
    page_size: int
    next_cursor: str | None
    total: int | None = None
    page: int | None = None
    pages: int | None = None


class LlmSessionEvent(BaseModel):
    """An event's metadata (no attributes; conversation text is never stored)."""

    event_id: str
    started_at: datetime
    ended_at: datetime | None
    latency_ms: float | None
    ttft_ms: float | None
    provider: str | None
    operation: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    total_tokens: int
    cost_usd: float | None
    cost_source: str | None
    status: str
    http_status: int | None
    error_type: str | None
    finish_reason: str | None
    accepted: bool | None
    lines_suggested: int | None
    lines_accepted: int | None
    repo: str | None
    tags: list[str]


class LlmSessionDetail(LlmSessionPublic):
    event_list: list[LlmSessionEvent]
    events_truncated: bool


@dataclass(frozen=True)
class SessionFilters:
    developer: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    accepted: bool | None = None
    status: Literal["ok", "error"] | None = None


@dataclass(frozen=True)
class Sort:
    name: str
    descending: bool

    @property
    def token(self) -> str:
        return ("-" if self.descending else "") + self.name


def parse_sort(sort: str | None) -> Sort:
    raw = DEFAULT_SORT if sort is None else sort
    descending = raw.startswith("-")
    name = raw[1:] if descending else raw
    name = SORT_ALIASES.get(name, name)
    # Raises InvalidSort for any name not in SORT_KEYS ("", "-cost" from "--cost").
    order_by(("-" if descending else "") + name, SORT_KEYS, default=DEFAULT_SORT)
    return Sort(name, descending)


def encode_cursor(sort: Sort, key: Any, row_id: int) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    payload = json.dumps({"s": sort.token, "k": value, "i": row_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


_BIGINT = 2**63  # ids and token counts are BIGINT: anything wider cannot be bound


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -_BIGINT < value < _BIGINT:
        raise TypeError
    return value


def _sort_key(sort: Sort, key: Any) -> Any:
    if sort.name == "tokens":
        return _integer(key)
    if sort.name == "started_at":
        if not isinstance(key, str):
            raise TypeError
        moment = datetime.fromisoformat(key)
        if moment.tzinfo is None:
            raise TypeError
        return moment.astimezone(UTC)  # OverflowError at the edges of datetime's range
    if not isinstance(key, int | float) or isinstance(key, bool) or not math.isfinite(key):
        raise TypeError
    return float(key)


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, int]:
    """The (sort key, id) a cursor continues after; anything else is a 400, never a 500."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        token, key, row_id = payload["s"], payload["k"], payload["i"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc
    if token != sort.token:
        raise InvalidCursor("The cursor was issued for another sort; pass the same sort.")
    try:
        return _sort_key(sort, key), _integer(row_id)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc


def _filtered(project_id: str, filters: SessionFilters, links: IdentityMap) -> Select[Any]:
    statement = select(LlmSession).where(LlmSession.project_id == project_id)
    if filters.developer is not None:
        statement = statement.where(
            LlmSession.developer_id.in_(links.identities_of(filters.developer))
        )
    if filters.since is not None:
        statement = statement.where(LlmSession.started_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(LlmSession.started_at < filters.until)
    if filters.accepted is not None:
        statement = statement.where(
            LlmSession.accepted > 0 if filters.accepted else LlmSession.accepted == 0
        )
    if filters.status is not None:
        statement = statement.where(
            LlmSession.errors > 0 if filters.status == "error" else LlmSession.errors == 0
        )
    if filters.model is not None:
        statement = statement.where(
            exists().where(
                Event.project_id == LlmSession.project_id,
                Event.session_id == LlmSession.session_id,
                Event.response_model == filters.model,
            )
        )
    return statement


def _after(sort: Sort, key: Any, row_id: int) -> ColumnElement[bool]:
    """Rows strictly after (key, id) in the sort order; the id breaks ties."""
    column = SORT_KEYS[sort.name]
    if sort.descending:
        return or_(column < key, and_(column == key, LlmSession.id < row_id))
    return or_(column > key, and_(column == key, LlmSession.id > row_id))


async def _models_of(
    session: AsyncSession, project_id: str, session_ids: list[str]
) -> dict[str, list[str]]:
    if not session_ids:
        return {}
    rows = await session.execute(
        select(Event.session_id, Event.response_model)
        .where(
            Event.project_id == project_id,
            Event.session_id.in_(session_ids),
            Event.response_model.is_not(None),
        )
        .distinct()
    )
    models: dict[str, list[str]] = defaultdict(list)
    for session_id, model in rows:
        if session_id is not None and model is not None:  # both filtered in SQL
            models[session_id].append(model)
    return {key: sorted(value) for key, value in models.items()}


def _public(row: LlmSession, models: list[str], links: IdentityMap) -> LlmSessionPublic:
    return LlmSessionPublic(
        session_id=row.session_id,
        developer_id=None if row.developer_id is None else links.developer_of(row.developer_id),
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_ms=(row.ended_at - row.started_at).total_seconds() * 1000,
        events=row.events,
        errors=row.errors,
        accepted=row.accepted,
        rejected=row.rejected,
        total_tokens=row.total_tokens,
        cost_usd=float(row.cost_usd),
        latency_ms_avg=ratio(row.latency_ms_sum, row.events),
        status="error" if row.errors else "ok",
        models=models,
    )


async def session_summaries(
    session: AsyncSession, project_id: str, session_ids: Sequence[str]
) -> list[LlmSessionPublic]:
    """The list items of these sessions, as they stand now (the live feed)."""
    if not session_ids:
        return []
    rows = list(
        await session.scalars(
            select(LlmSession)
            .where(LlmSession.project_id == project_id, LlmSession.session_id.in_(session_ids))
            .order_by(LlmSession.started_at, LlmSession.id)
        )
    )
    models = await _models_of(session, project_id, [row.session_id for row in rows])
    links = await load_identity_map(session, project_id)
    return [_public(row, models.get(row.session_id, []), links) for row in rows]


async def list_sessions(
    session: AsyncSession,
    project_id: str,
    filters: SessionFilters,
    *,
    sort: Sort,
    page: PageParams,
    cursor: str | None,
) -> LlmSessionList:
    """Page mode (no cursor): page `page.page` with totals. Cursor mode: the
    `page.page_size` sessions after the cursor, no count."""
    key_column = SORT_KEYS[sort.name]
    links = await load_identity_map(session, project_id)
    ordering = [
        key_column.desc() if sort.descending else key_column.asc(),
        LlmSession.id.desc() if sort.descending else LlmSession.id.asc(),
    ]
    statement = (
        _filtered(project_id, filters, links)
        .add_columns(key_column.label("sort_key"))
        .order_by(*ordering)
    )
    total: int | None = None
    if cursor is None:
        rows, total = await paginate(session, statement, page, scalars=False)
        has_more = page.offset + len(rows) < total
    else:
        key, row_id = decode_cursor(cursor, sort)
        result = await session.execute(
            statement.where(_after(sort, key, row_id)).limit(page.page_size + 1)
        )
        rows = [tuple(row) for row in result]
        has_more = len(rows) > page.page_size
        rows = rows[: page.page_size]
    models = await _models_of(session, project_id, [row[0].session_id for row in rows])
    items = [_public(row[0], models.get(row[0].session_id, []), links) for row in rows]
    next_cursor = None
    if has_more and rows:
        last, last_key = rows[-1]
        next_cursor = encode_cursor(sort, last_key, last.id)
    if total is None:
        return LlmSessionList(items=items, page_size=page.page_size, next_cursor=next_cursor)
    return LlmSessionList(
        items=items,
        page_size=page.page_size,
        next_cursor=next_cursor,
        total=total,
        page=page.page,
        pages=-(-total // page.page_size),
    )


async def session_detail(
    session: AsyncSession, project_id: str, session_id: str
) -> LlmSessionDetail:
    row = await session.scalar(
        select(LlmSession).where(
            LlmSession.project_id == project_id, LlmSession.session_id == session_id
        )
    )
    if row is None:
        raise SessionNotFound()
    events = list(
        await session.scalars(
            select(Event)
            .where(Event.project_id == project_id, Event.session_id == session_id)
            .order_by(Event.started_at, Event.id)
            .limit(MAX_DETAIL_EVENTS + 1)
        )
    )
    models = await _models_of(session, project_id, [session_id])
    fields = LlmSessionEvent.model_fields
    event_list = [
        LlmSessionEvent.model_validate(
            {name: getattr(event, name) for name in fields}
            | {"cost_usd": None if event.cost_usd is None else float(event.cost_usd)}
        )
        for event in events[:MAX_DETAIL_EVENTS]
    ]
    return LlmSessionDetail(
        **_public(
            row, models.get(session_id, []), await load_identity_map(session, project_id)
        ).model_dump(),
        event_list=event_list,
        events_truncated=len(events) > MAX_DETAIL_EVENTS,
    )
