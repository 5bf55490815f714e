"""The problems the account routes answer with."""

from __future__ import annotations

from prodlens.kit.errors import ProblemError

_BEARER = {"WWW-Authenticate": "Bearer"}


class NotAuthenticated(ProblemError):
    status, code, title = 401, "auth.not_authenticated", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers=_BEARER)


class InvalidCredentials(NotAuthenticated):
    code, title = "auth.invalid_credentials", "Invalid credentials"


class InvalidAccessToken(NotAuthenticated):
    code, title = "auth.invalid_token", "Invalid or expired access token"


class InvalidRefreshToken(NotAuthenticated):
    code, title = "auth.invalid_refresh_token", "Invalid or expired refresh token"


class RefreshTokenReused(NotAuthenticated):
    code, title = "auth.refresh_token_reused", "Refresh token already used; session revoked"


class AccountLocked(ProblemError):
    status, code, title = 403, "auth.account_locked", "Too many failed logins; try again later"


class AdminRequired(ProblemError):
    status, code, title = 403, "auth.admin_required", "Administrator role required"


class CsrfRejected(ProblemError):
    status, code, title = 403, "auth.csrf_failed", "Cross-site request check failed"


class CurrentPasswordRequired(ProblemError):
    status, code, title = 400, "auth.current_password_required", "Current password required"


class WrongPassword(ProblemError):
    status, code, title = 403, "auth.wrong_password", "Current password is wrong"


class InvalidOneTimeToken(ProblemError):
    status, code, title = 400, "auth.token_invalid", "Invalid, used or expired token"


class UsernameTaken(ProblemError):
    status, code, title = 409, "auth.username_taken", "Username already taken"


class SessionNotFound(ProblemError):
    status, code, title = 404, "auth.session_not_found", "No such session"


class WeakPassword(ProblemError):
    status, code, title = 422, "auth.weak_password", "Password not accepted"
