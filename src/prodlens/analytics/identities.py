"""One developer across sources: identities (an email, a GitHub login, a LiteLLM user,
an OpenTelemetry `user.*` attribute) linked to the developer they belong to.

Events, rollups and assistant facts keep the identity each source sent. Reads map
identities to developers when they filter or group by developer, so a link or an
unlink changes every KPI, profile and export at once, past data included, and an
unlink gives back exactly what was there before:

- a developer filter covers the developer's own id and every identity linked to it
  (`Filters.identities`, `IdentityMap.identities_of`);
- grouping by developer groups by `IdentityMap.developer_column(column)`, the stored
  identity mapped to its developer in SQL;
- a developer id shown in a list or an export is `IdentityMap.developer_of(identity)`.

A developer is named by its own id (an email, say); identities link to it in one
step: a developer that is itself linked to another cannot take links (no chains).
Links are made by maintainers, or automatically when a source reports an identity
together with an email (`record_sightings`): the identity joins the developer that
email belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.models import DeveloperIdentity
from prodlens.kit.db import insert_ignoring_conflicts
from prodlens.kit.errors import NotFound, ProblemError
from prodlens.kit.ids import new_id

if TYPE_CHECKING:  # kpis imports this module: no cycle at run time
    from prodlens.analytics.kpis.conditions import Filters

IdentityKind = Literal["email", "github", "litellm", "otel", "other"]
KINDS: tuple[str, ...] = ("email", "github", "litellm", "otel", "other")


class IdentityTaken(ProblemError):
    status, code, title = 409, "identities.taken", "This identity is linked to another developer"


class IdentityChained(ProblemError):
    status, code, title = 422, "identities.chained", "Identities link to a developer in one step"


class IdentityNotFound(NotFound):
    code, title = "identities.not_found", "No such identity linked to this developer"


@dataclass(frozen=True)
class IdentityMap:
    """A project's links, identity → developer, read once per request (a project has
    at most a few links per person)."""

    links: Mapping[str, str] = field(default_factory=dict)

    def developer_of(self, identity: str) -> str:
        return self.links.get(identity, identity)

    def identities_of(self, developer: str) -> tuple[str, ...]:
        """The ids the developer's data is stored under: its own first."""
        developer = self.developer_of(developer)
        return (developer, *sorted(key for key, to in self.links.items() if to == developer))

    def developer_column(self, column: Any) -> Any:
        """`column` (a stored identity) mapped to its developer, in SQL."""
        if not self.links:
            return column
        return case(dict(self.links), value=column, else_=column)

    def fold(self, identities: Iterable[str]) -> dict[str, list[str]]:
        """Developer → the identities among `identities` that belong to it."""
        grouped: dict[str, list[str]] = {}
        for identity in identities:
            grouped.setdefault(self.developer_of(identity), []).append(identity)
        return grouped


async def load_identity_map(session: AsyncSession, project_id: str) -> IdentityMap:
    rows = await session.execute(
        select(DeveloperIdentity.identity, DeveloperIdentity.developer_id).where(
            DeveloperIdentity.project_id == project_id
        )
    )
    return IdentityMap({row.identity: row.developer_id for row in rows})


def with_identities(filters: Filters, links: IdentityMap) -> Filters:
    """`filters` with the developer's identities filled in (a developer named by any
    of its identities is that developer)."""
    if filters.developer is None or filters.identities or not links.links:
        return filters
    return replace(
        filters,
        developer=links.developer_of(filters.developer),
        identities=links.identities_of(filters.developer),
    )


async def resolve_filters(session: AsyncSession, project_id: str, filters: Filters) -> Filters:
    if filters.developer is None or filters.identities:
        return filters
    return with_identities(filters, await load_identity_map(session, project_id))


# --- automatic links --------------------------------------------------------------------


@dataclass(frozen=True)
class Sighting:
    """An identity a source reported, with the email it reported for the same person."""

    identity: str
    kind: str
    email: str | None = None


def _looks_like_email(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value


async def record_sightings(
    session: AsyncSession, project_id: str, sightings: Iterable[Sighting], now: datetime
) -> int:
    """Link each identity seen with an email to the developer that email belongs to
    (the email itself, or the developer it is linked to). Existing links win: an
    automatic link never moves an identity. Returns the links made."""
    pending = {
        sighting.identity[:128]: sighting
        for sighting in sightings
        if sighting.email
        and sighting.identity
        and _looks_like_email(sighting.email)
        and sighting.identity.lower() != sighting.email.lower()
    }
    if not pending:
        return 0
    links = await load_identity_map(session, project_id)
    rows = []
    for identity, sighting in sorted(pending.items()):
        developer = links.developer_of(str(sighting.email)[:128])
        # No chains, no links of a developer that others link to.
        if identity in links.links or identity in links.links.values() or developer == identity:
            continue
        rows.append(
            {
                "id": new_id(),
                "project_id": project_id,
                "identity": identity,
                "developer_id": developer,
                "kind": sighting.kind if sighting.kind in KINDS else "other",
                "linked_by": None,
                "created_at": now,
            }
        )
    if not rows:
        return 0
    statement = insert_ignoring_conflicts(
        session, DeveloperIdentity, index_elements=["project_id", "identity"]
    ).returning(DeveloperIdentity.__table__.c.identity)
    result = await session.execute(statement, rows)
    return len(list(result.scalars()))


# --- links made by people ---------------------------------------------------------------


async def list_identities(
    session: AsyncSession, project_id: str, developer_id: str
) -> Sequence[DeveloperIdentity]:
    rows = await session.scalars(
        select(DeveloperIdentity)
        .where(
            DeveloperIdentity.project_id == project_id,
            DeveloperIdentity.developer_id == developer_id,
        )
        .order_by(DeveloperIdentity.created_at, DeveloperIdentity.identity)
    )
    return list(rows)


async def link_identity(
    session: AsyncSession,
    project_id: str,
    developer_id: str,
    *,
    identity: str,
    kind: str,
    user_id: str | None,
    now: datetime,
) -> tuple[DeveloperIdentity, bool]:
    """Link `identity` to the developer; (the link, whether it is new). Linking the
    same pair again changes nothing."""
    if identity == developer_id:
        raise IdentityChained(f"{identity!r} is the developer's own id.")
    existing = await session.scalar(
        select(DeveloperIdentity).where(
            DeveloperIdentity.project_id == project_id, DeveloperIdentity.identity == identity
        )
    )
    if existing is not None:
        if existing.developer_id == developer_id:
            return existing, False
        raise IdentityTaken(
            f"{identity!r} is linked to {existing.developer_id!r}; unlink it there first."
        )
    links = await load_identity_map(session, project_id)
    if developer_id in links.links:
        raise IdentityChained(
            f"{developer_id!r} is itself linked to {links.links[developer_id]!r}: "
            "link the identity to that developer."
        )
    if identity in links.links.values():
        raise IdentityChained(
            f"Other identities are linked to {identity!r}: unlink them first, "
            "or link them to this developer."
        )
    link = DeveloperIdentity(
        id=new_id(),
        project_id=project_id,
        identity=identity,
        developer_id=developer_id,
        kind=kind,
        linked_by=user_id,
        created_at=now,
    )
    session.add(link)
    await session.flush()
    return link, True


async def unlink_identity(
    session: AsyncSession, project_id: str, developer_id: str, link_id: str
) -> DeveloperIdentity:
    link = await session.scalar(
        select(DeveloperIdentity).where(
            DeveloperIdentity.project_id == project_id,
            DeveloperIdentity.developer_id == developer_id,
            DeveloperIdentity.id == link_id,
        )
    )
    if link is None:
        raise IdentityNotFound()
    await session.execute(delete(DeveloperIdentity).where(DeveloperIdentity.id == link.id))
    return link
