"""Who is calling: `Principal`, `CurrentUser`, `AdminUser` as dependency aliases.

A bearer token (API clients) or the access cookie (the dashboard) is accepted;
cookie-authenticated unsafe requests must pass the CSRF check. A revoked
session's tokens are refused at once, through the shared revocation list, and so
is a token whose session belongs to someone other than its subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer
from starlette.requests import HTTPConnection
from starlette.types import Scope

from prodlens.auth.cookies import ACCESS_COOKIE, SAFE_METHODS, check_csrf
from prodlens.auth.errors import AdminRequired, InvalidAccessToken, NotAuthenticated
from prodlens.auth.models import Role, User
from prodlens.auth.runtime import AuthRuntime, app_auth_runtime
from prodlens.auth.tokens import AccessClaims, InvalidToken
from prodlens.kit.db import SessionDep
from prodlens.ratelimit.deps import charge_plan

log = structlog.get_logger(__name__)

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/login",
    scheme_name="bearer",
    description="Access token from `POST /api/v1/auth/login`.",
    auto_error=False,
)
cookie_scheme = APIKeyCookie(
    name=ACCESS_COOKIE,
    scheme_name="cookie",
    description="Browser mode; unsafe methods also need `X-CSRF-Token`.",
    auto_error=False,
)


async def _auth_runtime(request: Request) -> AuthRuntime:
    return app_auth_runtime(request.scope)


AuthDep = Annotated[AuthRuntime, Depends(_auth_runtime)]


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str
    via_cookie: bool


async def authenticate_request(
    request: Request,
    runtime: AuthDep,
    bearer: Annotated[str | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal:
    token = bearer or cookie
    if not token:
        raise NotAuthenticated("Send `Authorization: Bearer <access token>` or sign in.")
    try:
        claims = runtime.keys.verify_access(token)
    except InvalidToken as exc:
        log.info("access_token_rejected", reason=str(exc))
        raise InvalidAccessToken() from None
    if not await runtime.revocations.is_open_for(claims.session_id, claims.user_id):
        raise InvalidAccessToken("This session has been signed out.")
    via_cookie = bearer is None
    if via_cookie and request.method not in SAFE_METHODS:
        check_csrf(request, runtime.settings, claims.session_id)
    return Principal(claims.user_id, claims.session_id, via_cookie)


PrincipalDep = Annotated[Principal, Depends(authenticate_request)]


def access_cookie(connection: HTTPConnection) -> str | None:
    """The browser's access cookie, for connections that are not plain requests (WebSockets)."""
    return connection.cookies.get(ACCESS_COOKIE)


def access_claims(runtime: AuthRuntime, token: str) -> AccessClaims | None:
    """Who a signed, unexpired access token names; None for anything else. The caller still
    checks the revocation list and the account."""
    try:
        return runtime.keys.verify_access(token)
    except InvalidToken:
        return None


async def load_current_user(request: Request, principal: PrincipalDep, session: SessionDep) -> User:
    user = await session.get(User, principal.user_id)
    if user is None or not user.is_active:
        raise InvalidAccessToken()
    # Every authenticated request counts against the user's plan (tier); admins are not
    # metered, so an incident never locks them out of the tools to handle it.
    if user.role != Role.ADMIN:
        await charge_plan(request, tier=user.tier, key=f"user:{user.id}")
    return user


CurrentUser = Annotated[User, Depends(load_current_user)]


async def _admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise AdminRequired()
    return user


AdminUser = Annotated[User, Depends(_admin_user)]


async def is_admin_request(scope: Scope) -> bool:
    """Whether a raw request carries a live admin session (maintenance mode lets it in)."""
    request = Request(scope)
    authorization = request.headers.get("authorization", "")
    scheme, _, bearer = authorization.partition(" ")
    token = bearer if scheme.lower() == "bearer" else request.cookies.get(ACCESS_COOKIE)
    if not token:
        return False
    runtime = app_auth_runtime(scope)
    try:
        claims = runtime.keys.verify_access(token)
    except InvalidToken:
        return False
    if not await runtime.revocations.is_open_for(claims.session_id, claims.user_id):
        return False
    async with runtime.sessionmaker() as session:
        user = await session.get(User, claims.user_id)
    return user is not None and user.is_active and user.role == Role.ADMIN
