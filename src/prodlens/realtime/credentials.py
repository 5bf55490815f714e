"""Who opened a socket, and which projects it may follow.

Programs send `Authorization: Bearer <access token | API key>` or `X-API-Key`, or
the same token as the first message (`{"type": "auth", "token": …}`); tokens never
go in the URL, where logs and proxies would keep them. Browsers send the access
cookie, accepted only from an allowed Origin: otherwise any site a signed-in user
visits could open a socket in the user's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from prodlens.auth.deps import access_claims, access_cookie
from prodlens.auth.models import User
from prodlens.auth.runtime import AuthRuntime
from prodlens.config import Settings
from prodlens.projects import api_keys_service
from prodlens.projects.errors import ApiKeyScopeMissing, InvalidApiKey, ProjectNotFound
from prodlens.projects.models import ApiKey, KeyScope, Project, ProjectMember
from prodlens.projects.service import find_project
from prodlens.realtime.connection import Principal
from prodlens.realtime.protocol import BadMessage, CloseCode


class Refused(Exception):
    """The socket cannot be served: closed with `code`."""

    def __init__(self, code: CloseCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Offered:
    """What the upgrade request carried: a token (header) or a cookie, or nothing."""

    token: str | None
    cookie: str | None
    origin_allowed: bool


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(connection: HTTPConnection, settings: Settings) -> bool:
    """The page's Origin is this server itself, the public URL, or a CORS origin."""
    origin = connection.headers.get("origin")
    if not origin:
        return False
    origin = origin.lower()
    host = connection.headers.get("host", "").lower()
    if host and urlsplit(origin).netloc == host:
        return True
    allowed = {_origin(o) for o in settings.http.cors_origins}
    if settings.public_url:
        allowed.add(_origin(settings.public_url))
    return origin in allowed


def offered(connection: HTTPConnection, settings: Settings) -> Offered:
    scheme, _, bearer = connection.headers.get("authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" and bearer.strip() else None
    token = token or connection.headers.get("x-api-key") or None
    return Offered(
        token=token,
        cookie=access_cookie(connection),
        origin_allowed=origin_allowed(connection, settings),
    )


async def authenticate(token: str, runtime: AuthRuntime) -> Principal:
    """An access token (a live session of an active user) or a project API key."""
    async with runtime.sessionmaker() as session:
        claims = access_claims(runtime, token)
        if claims is not None:
            if not await runtime.revocations.is_open_for(claims.session_id, claims.user_id):
                raise Refused(CloseCode.SESSION_REVOKED, "This session has been signed out.")
            user = await session.get(User, claims.user_id)
            if user is None or not user.is_active:
                raise Refused(CloseCode.UNAUTHENTICATED, "Unknown or inactive account.")
            return Principal(user_id=user.id, session_id=claims.session_id)
        try:
            key = await api_keys_service.authenticate(session, token, now=runtime.clock.now())
        except InvalidApiKey:
            raise Refused(
                CloseCode.UNAUTHENTICATED, "Invalid or expired access token or API key."
            ) from None
        return Principal(
            api_key_id=key.id, key_project_id=key.project_id, key_scopes=frozenset(key.scopes)
        )


async def resolve_project(
    sessionmaker: async_sessionmaker[AsyncSession], principal: Principal, reference: str
) -> Project:
    """The project a `subscribe` names, if the principal may read it (checked every time)."""
    async with sessionmaker() as session:
        project = await find_project(session, reference)
        if project is None or not await may_read(session, principal, project.id):
            if project is not None and principal.key_project_id == project.id:
                raise BadMessage(ApiKeyScopeMissing.code, "This key lacks the 'read' scope.")
            raise BadMessage(ProjectNotFound.code, "No such project.")
        return project


async def may_read(session: AsyncSession, principal: Principal, project_id: str) -> bool:
    if principal.user_id is not None:
        member = await session.get(ProjectMember, (project_id, principal.user_id))
        return member is not None
    if principal.api_key_id is None or principal.key_project_id != project_id:
        return False
    revoked = await session.scalar(
        select(ApiKey.revoked_at).where(ApiKey.id == principal.api_key_id)
    )
    return revoked is None and KeyScope.READ in principal.key_scopes


async def still_valid(session: AsyncSession, principal: Principal) -> bool:
    """An API key not revoked since the socket opened (sessions: see the revocation list)."""
    if principal.api_key_id is None:
        return True
    key = await session.get(ApiKey, principal.api_key_id)
    return key is not None and key.revoked_at is None
