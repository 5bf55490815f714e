"""Browser mode: tokens in HttpOnly cookies, and the CSRF defence that comes with them.

CSRF uses a signed double-submit token (bound to the session by an HMAC) sent
back in `X-CSRF-Token`, plus an Origin check on unsafe requests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from prodlens.auth.errors import CsrfRejected
from prodlens.config import Settings

ACCESS_COOKIE = "prodlens_access"
REFRESH_COOKIE = "prodlens_refresh"
CSRF_COOKIE = "prodlens_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _signature(settings: Settings, session_id: str, nonce: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    message = f"csrf:{session_id}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def new_csrf_token(settings: Settings, session_id: str) -> str:
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_signature(settings, session_id, nonce)}"


def set_session_cookies(
    response: Response,
    settings: Settings,
    *,
    access_token: str,
    refresh_token: str,
    csrf_token: str,
) -> None:
    def cookie(name: str, value: str, *, httponly: bool) -> None:
        response.set_cookie(
            name,
            value,
            max_age=settings.auth.refresh_token_days * 86400,
            path="/",
            samesite="lax",
            secure=settings.cookie_secure,
            httponly=httponly,
        )

    cookie(ACCESS_COOKIE, access_token, httponly=True)
    cookie(REFRESH_COOKIE, refresh_token, httponly=True)
    # Readable by the page's script, which echoes it in X-CSRF-Token.
    cookie(CSRF_COOKIE, csrf_token, httponly=False)


def clear_session_cookies(response: Response, settings: Settings) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=settings.cookie_secure, samesite="lax")


def _trusted_origins(request: Request, settings: Settings) -> set[str]:
    origins = {str(request.base_url).rstrip("/"), *settings.http.cors_origins}
    if settings.public_url:
        origins.add(settings.public_url.rstrip("/"))
    return origins


def check_origin(request: Request, settings: Settings) -> None:
    """A browser's Origin on an unsafe cookie request must be one of ours."""
    origin = request.headers.get("origin")
    if origin is not None and origin not in _trusted_origins(request, settings):
        raise CsrfRejected("The request comes from a foreign origin.")


def check_csrf(request: Request, settings: Settings, session_id: str) -> None:
    check_origin(request, settings)
    header = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    nonce, _, signature = header.partition(".")
    valid = (
        bool(header)
        and hmac.compare_digest(header, cookie)
        and hmac.compare_digest(signature, _signature(settings, session_id, nonce))
    )
    if not valid:
        raise CsrfRejected(f"Send the CSRF token from the login response as {CSRF_HEADER}.")
