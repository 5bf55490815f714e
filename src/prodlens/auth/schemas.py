"""Request and response bodies of the account routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from prodlens.auth.models import AuthSession
from prodlens.auth.passwords import MAX_LENGTH, MIN_LENGTH
from prodlens.kit.schemas import Strict

Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
# Login accepts any length up to the maximum: old passwords may predate today's rules.
LoginPassword = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$"),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
OneTimeTokenValue = Annotated[str, Field(min_length=16, max_length=128)]


class RegisterRequest(Strict):
    email: EmailStr = Field(max_length=320)
    username: Username = Field(description="3 to 32 letters, digits, `_`, `.` or `-`.")
    password: Password
    display_name: DisplayName


class Accepted(BaseModel):
    detail: str


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=320, description="Username or email.")
    password: LoginPassword
    device_name: str | None = Field(None, max_length=100)
    use_cookies: bool = Field(
        False, description="Browser mode: tokens in HttpOnly cookies, CSRF token in the body."
    )


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Access token lifetime in seconds.")


class CookieSessionResponse(BaseModel):
    token_type: Literal["cookie"] = "cookie"
    expires_in: int
    csrf_token: str = Field(description="Send back as `X-CSRF-Token` on unsafe requests.")


class RefreshRequest(Strict):
    refresh_token: str | None = Field(
        None, max_length=128, description="Omit in cookie mode: the cookie is used."
    )


class SignInSessionPublic(BaseModel):
    """A sign-in session of the account: one device or browser that signed in."""

    id: str
    device: str | None
    ip: str | None
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool

    @classmethod
    def of(cls, row: AuthSession, *, current_id: str | None) -> SignInSessionPublic:
        return cls(
            id=row.id,
            device=row.device,
            ip=row.ip,
            user_agent=row.user_agent,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            current=row.id == current_id,
        )


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    username: str
    display_name: str
    role: str
    tier: str
    is_verified: bool
    created_at: datetime
    last_login_at: datetime | None


class MeUpdate(Strict):
    display_name: DisplayName | None = None


class ChangePasswordRequest(Strict):
    current_password: str | None = Field(None, max_length=MAX_LENGTH)
    new_password: Password


class PasswordResetRequest(Strict):
    email: EmailStr = Field(max_length=320)


class PasswordResetConfirm(Strict):
    token: OneTimeTokenValue
    new_password: Password


class EmailRequest(Strict):
    email: EmailStr = Field(max_length=320)
