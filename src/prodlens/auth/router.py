"""`/api/v1/auth`: registration, login, tokens, sessions, the caller's account."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.auth import recovery, service
from prodlens.auth.cookies import (
    REFRESH_COOKIE,
    check_csrf,
    check_origin,
    clear_session_cookies,
    new_csrf_token,
    set_session_cookies,
)
from prodlens.auth.deps import AuthDep, CurrentUser, Principal, PrincipalDep
from prodlens.auth.errors import (
    AccountLocked,
    CsrfRejected,
    CurrentPasswordRequired,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidOneTimeToken,
    InvalidRefreshToken,
    NotAuthenticated,
    RefreshTokenReused,
    SessionNotFound,
    UsernameTaken,
    WeakPassword,
    WrongPassword,
)
from prodlens.auth.models import User
from prodlens.auth.runtime import AuthRuntime
from prodlens.auth.schemas import (
    Accepted,
    ChangePasswordRequest,
    CookieSessionResponse,
    EmailRequest,
    LoginRequest,
    MeUpdate,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    SignInSessionPublic,
    TokenResponse,
    UserPublic,
)
from prodlens.auth.service import IssuedTokens, NewAccount
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.client import ClientInfo
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep
from prodlens.kit.errors import MalformedJson, UnsupportedMediaType, problem_responses
from prodlens.ratelimit.deps import enforce_request, limit_by_ip
from prodlens.ratelimit.errors import RateLimited

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=InstrumentedRoute)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_LOGIN_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": LoginRequest.model_json_schema()},
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["username", "password"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["password"]},
                    "username": {"type": "string", "description": "Username or email."},
                    "password": {"type": "string", "format": "password"},
                },
            }
        },
    },
}


async def _login_request(request: Request) -> LoginRequest:
    """The OAuth2 password form (Swagger's Authorize button) or the JSON body."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: Any
    if media_type in _FORM_TYPES:
        form = await request.form()
        fields = {key: form.get(key) for key in ("username", "password") if key in form}
    elif media_type in ("", "application/json"):
        try:
            fields = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MalformedJson("The request body is not valid JSON.") from None
    else:
        raise UnsupportedMediaType("Send JSON or an OAuth2 password form.")
    try:
        return LoginRequest.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


def _cookie_session(
    response: Response, runtime: AuthRuntime, tokens: IssuedTokens
) -> CookieSessionResponse:
    csrf = new_csrf_token(runtime.settings, tokens.session_id)
    set_session_cookies(
        response,
        runtime.settings,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        csrf_token=csrf,
    )
    return CookieSessionResponse(expires_in=tokens.expires_in, csrf_token=csrf)


def _bearer(tokens: IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post(
    "/register",
    status_code=201,
    response_model=Accepted,
    summary="Create an account; a verification email follows",
    dependencies=[Depends(limit_by_ip("registration"))],
    responses=problem_responses(WeakPassword, UsernameTaken, RateLimited),
)
async def register(
    body: RegisterRequest, session: SessionDep, runtime: AuthDep, client: ClientDep
) -> Accepted:
    account = NewAccount(body.email, body.username, body.password, body.display_name)
    await service.register(session, runtime, account, client)
    # The same answer whether or not the email already had an account.
    return Accepted(detail="Check your inbox to confirm your email address.")


@router.post(
    "/login",
    response_model=TokenResponse | CookieSessionResponse,
    summary="Sign in with username or email and password (JSON or OAuth2 form)",
    openapi_extra={"requestBody": _LOGIN_BODY},
    dependencies=[Depends(limit_by_ip("login_ip"))],
    responses=problem_responses(
        MalformedJson,
        InvalidCredentials,
        AccountLocked,
        CsrfRejected,
        UnsupportedMediaType,
        RateLimited,
    ),
)
async def login(
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: AuthDep,
    client: ClientDep,
) -> TokenResponse | CookieSessionResponse:
    body = await _login_request(request)
    await enforce_request(request, "login_identifier", body.username.strip().casefold())
    if body.use_cookies:
        check_origin(request, runtime.settings)
    tokens = await service.login(
        session,
        runtime,
        identifier=body.username,
        password=body.password,
        client=client,
        device=body.device_name,
    )
    return _cookie_session(response, runtime, tokens) if body.use_cookies else _bearer(tokens)


@router.post(
    "/refresh",
    response_model=TokenResponse | CookieSessionResponse,
    summary="Exchange a refresh token for a new pair (rotation)",
    dependencies=[Depends(limit_by_ip("refresh"))],
    responses=problem_responses(InvalidRefreshToken, RefreshTokenReused, CsrfRejected, RateLimited),
)
async def refresh(
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: AuthDep,
    client: ClientDep,
    body: RefreshRequest | None = None,
) -> TokenResponse | CookieSessionResponse:
    if body is not None and body.refresh_token:
        return _bearer(
            await service.refresh(session, runtime, refresh_token=body.refresh_token, client=client)
        )
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise InvalidRefreshToken("Send `refresh_token`, or the refresh cookie in browser mode.")
    session_id = await service.session_of_refresh_token(session, cookie)
    if session_id is None:
        raise InvalidRefreshToken()
    check_csrf(request, runtime.settings, session_id)
    tokens = await service.refresh(session, runtime, refresh_token=cookie, client=client)
    return _cookie_session(response, runtime, tokens)


@router.post(
    "/logout",
    status_code=204,
    summary="Sign out this session",
    responses=problem_responses(NotAuthenticated, CsrfRejected),
)
async def logout(
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    runtime: AuthDep,
    client: ClientDep,
) -> Response:
    return await _sign_out(principal, user, session, runtime, client, everywhere=False)


async def _sign_out(
    principal: Principal,
    user: User,
    session: AsyncSession,
    runtime: AuthRuntime,
    client: ClientInfo,
    *,
    everywhere: bool,
) -> Response:
    await service.logout(
        session,
        runtime,
        user=user,
        session_id=principal.session_id,
        everywhere=everywhere,
        client=client,
    )
    response = Response(status_code=204)
    clear_session_cookies(response, runtime.settings)
    return response


@router.post(
    "/logout-all",
    status_code=204,
    summary="Sign out every session of this account",
    responses=problem_responses(NotAuthenticated, CsrfRejected),
)
async def logout_all(
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    runtime: AuthDep,
    client: ClientDep,
) -> Response:
    return await _sign_out(principal, user, session, runtime, client, everywhere=True)


@router.get(
    "/sessions",
    response_model=list[SignInSessionPublic],
    summary="The signed-in sessions of this account",
    responses=problem_responses(NotAuthenticated),
)
async def list_sessions(
    principal: PrincipalDep, user: CurrentUser, session: SessionDep, runtime: AuthDep
) -> list[SignInSessionPublic]:
    rows = await service.list_open_sessions(session, runtime, user.id)
    return [SignInSessionPublic.of(row, current_id=principal.session_id) for row in rows]


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    summary="Sign out one session of this account",
    responses=problem_responses(NotAuthenticated, SessionNotFound, CsrfRejected),
)
async def revoke_session(
    session_id: str, user: CurrentUser, session: SessionDep, runtime: AuthDep, client: ClientDep
) -> Response:
    await service.revoke_own_session(
        session, runtime, user=user, session_id=session_id, client=client
    )
    return Response(status_code=204)


@router.get(
    "/me",
    response_model=UserPublic,
    summary="The signed-in account",
    responses=problem_responses(NotAuthenticated, InvalidAccessToken),
)
async def get_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch(
    "/me",
    response_model=UserPublic,
    summary="Update the signed-in account's profile",
    responses=problem_responses(NotAuthenticated, CsrfRejected),
)
async def update_me(
    body: MeUpdate, user: CurrentUser, session: SessionDep, runtime: AuthDep
) -> UserPublic:
    updated = await service.update_profile(session, runtime, user, display_name=body.display_name)
    return UserPublic.model_validate(updated)


@router.post(
    "/change-password",
    status_code=204,
    summary="Change the password (other sessions are signed out; a notice is emailed)",
    responses=problem_responses(
        CurrentPasswordRequired, WrongPassword, WeakPassword, NotAuthenticated
    ),
)
async def change_password(
    body: ChangePasswordRequest,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    runtime: AuthDep,
    client: ClientDep,
) -> Response:
    await service.change_password(
        session,
        runtime,
        user=user,
        session_id=principal.session_id,
        current_password=body.current_password,
        new_password=body.new_password,
        client=client,
    )
    return Response(status_code=204)


@router.post(
    "/password-reset",
    status_code=202,
    response_model=Accepted,
    summary="Email a password reset link (the same answer for any address)",
    dependencies=[Depends(limit_by_ip("password_reset"))],
    responses=problem_responses(RateLimited),
)
async def request_password_reset(
    body: PasswordResetRequest, runtime: AuthDep, client: ClientDep
) -> Accepted:
    recovery.request_password_reset(runtime, body.email, client)
    return Accepted(detail="If an account uses this address, a reset link is on its way.")


@router.post(
    "/password-reset/confirm",
    response_model=Accepted,
    summary="Set a new password with a reset token (does not sign in)",
    responses=problem_responses(InvalidOneTimeToken, WeakPassword),
)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: SessionDep, runtime: AuthDep, client: ClientDep
) -> Accepted:
    await recovery.confirm_password_reset(
        session, runtime, token=body.token, new_password=body.new_password, client=client
    )
    return Accepted(detail="Password changed. Sign in with the new password.")


@router.post(
    "/verify-email/resend",
    status_code=202,
    response_model=Accepted,
    summary="Send the verification email again (the same answer for any address)",
    dependencies=[Depends(limit_by_ip("password_reset"))],
    responses=problem_responses(RateLimited),
)
async def resend_verification(body: EmailRequest, runtime: AuthDep, client: ClientDep) -> Accepted:
    recovery.resend_verification(runtime, body.email, client)
    return Accepted(detail="If an unverified account uses this address, an email is on its way.")


@router.post(
    "/verify-email/{token}",
    response_model=UserPublic,
    summary="Confirm an email address with the emailed token",
    responses=problem_responses(InvalidOneTimeToken),
)
async def verify_email(
    token: str, session: SessionDep, runtime: AuthDep, client: ClientDep
) -> UserPublic:
    if not 16 <= len(token) <= 128:
        raise InvalidOneTimeToken("This link or code is invalid, already used or expired.")
    user = await recovery.verify_email(session, runtime, token=token, client=client)
    return UserPublic.model_validate(user)
