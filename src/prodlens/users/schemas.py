"""Bodies of the admin user routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, EmailStr, Field

from prodlens.auth.schemas import DisplayName, Password, Username, UserPublic
from prodlens.kit.schemas import Strict

Tier = Literal["free", "basic", "premium", "enterprise"]
RoleName = Literal["user", "admin"]


class UserAdminView(UserPublic):
    model_config = ConfigDict(from_attributes=True)

    is_active: bool
    updated_at: datetime
    password_changed_at: datetime


class UserCreate(Strict):
    email: EmailStr = Field(max_length=320)
    username: Username
    password: Password
    display_name: DisplayName
    role: RoleName = "user"
    is_verified: bool = True


class UserUpdate(Strict):
    display_name: DisplayName | None = None
    role: RoleName | None = None
    tier: Tier | None = None
    is_active: bool | None = Field(None, description="false signs the user out everywhere.")
    is_verified: bool | None = None
