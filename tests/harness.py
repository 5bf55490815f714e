"""A running app with a movable clock, its outbox, and account helpers for tests."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from prodlens.config import Settings
from prodlens.kit.clock import ManualClock

PASSWORD = "violet-lantern-ocean-42"
_TOKEN = re.compile(r"code \(valid[^\n]*\n\n\s+(\S+)")


@dataclass
class Account:
    email: str
    username: str
    password: str
    access_token: str = ""
    refresh_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    settings: Settings

    async def settle(self) -> None:
        """Let background work (emails after commit) finish."""
        await self.app.state.tasks.drain(10)

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    # --- email -----------------------------------------------------------------
    def emails(self, to: str | None = None) -> list[email.message.EmailMessage]:
        outbox = Path(self.settings.data_dir) / "outbox"
        messages = []
        for path in sorted(outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, email.message.EmailMessage)
            if to is None or message["To"] == to:
                messages.append(message)
        return messages

    def last_token(self, to: str, subject: str) -> str:
        matching = [m for m in self.emails(to) if subject in str(m["Subject"])]
        assert matching, f"no email {subject!r} to {to}"
        return token_in(matching[-1])

    # --- accounts ---------------------------------------------------------------
    async def register(
        self,
        username: str = "ada",
        *,
        email_address: str | None = None,
        password: str = PASSWORD,
        display_name: str = "Ada Lovelace",
    ) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/register",
            json={
                "email": email_address or f"{username}@example.com",
                "username": username,
                "password": password,
                "display_name": display_name,
            },
        )

    async def login(
        self, identifier: str, password: str = PASSWORD, **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/login", json={"username": identifier, "password": password, **extra}
        )

    async def signup(self, username: str = "ada", password: str = PASSWORD) -> Account:
        """Register and sign in; returns the account with its tokens."""
        registered = await self.register(username, password=password)
        assert registered.status_code == 201, registered.text
        account = Account(f"{username}@example.com", username, password)
        await self.sign_in(account)
        return account

    async def sign_in(self, account: Account) -> Account:
        response = await self.login(account.username, account.password)
        assert response.status_code == 200, response.text
        account.access_token = response.json()["access_token"]
        account.refresh_token = response.json()["refresh_token"]
        return account

    async def make_admin(self, account: Account) -> None:
        await self.sql(
            "UPDATE users SET role = 'admin' WHERE username_key = :u", u=account.username
        )

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        async with self.app.state.database.engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []


def token_in(message: email.message.EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = _TOKEN.search(body.get_content())
    assert match, "no token in the email"
    return match.group(1)
