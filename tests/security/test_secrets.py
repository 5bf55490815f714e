"""Secrets never logged or returned (SECURITY.md S33), over a full account flow."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import HarnessFactory
from tests.harness import Harness

AUTH = "/api/v1/auth"


def server_log(err: str) -> str:
    """The captured log without the test client's own lines (httpx logs the URLs it calls,
    which here hold the verification token; that is the client, not the server)."""
    kept = []
    for line in err.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("logger") == "httpx":
            continue
        kept.append(line)
    return "\n".join(kept)


async def password_hash(harness: Harness) -> str:
    [(value,)] = await harness.sql("SELECT password_hash FROM users WHERE username_key = 'ada'")
    return str(value)


async def test_s33_secrets_never_logged_or_returned(
    capsys: pytest.CaptureFixture[str], make_harness: HarnessFactory
) -> None:
    # capsys is in place before the app exists: its log handler writes to the captured stderr.
    passwords = {
        "registered": "violet-lantern-ocean-42",
        "mistyped": "violet-lantern-ocean-24",
        "changed": "amber-quokka-travels-9",
        "reset": "copper-tundra-whistle-5",
    }
    secrets: dict[str, str] = {f"password {k}": v for k, v in passwords.items()}
    responses: list[httpx.Response] = []

    async with make_harness(log_format="json") as harness:
        client = harness.client

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await client.request(method, AUTH + path, **kwargs)
            responses.append(response)
            return response

        registered = await harness.register("ada", password=passwords["registered"])
        responses.append(registered)
        assert registered.status_code == 201
        await harness.settle()
        secrets["hash at registration"] = await password_hash(harness)
        secrets["verify token"] = harness.last_token("ada@example.com", "Confirm your email")
        assert (await call("POST", f"/verify-email/{secrets['verify token']}")).status_code == 200

        failed = await call(
            "POST", "/login", json={"username": "ada", "password": passwords["mistyped"]}
        )
        assert failed.status_code == 401
        login = await call(
            "POST", "/login", json={"username": "ada", "password": passwords["registered"]}
        )
        assert login.status_code == 200
        secrets["access token 1"] = login.json()["access_token"]
        secrets["refresh token 1"] = login.json()["refresh_token"]

        refreshed = await call(
            "POST", "/refresh", json={"refresh_token": secrets["refresh token 1"]}
        )
        assert refreshed.status_code == 200
        secrets["access token 2"] = refreshed.json()["access_token"]
        secrets["refresh token 2"] = refreshed.json()["refresh_token"]
        headers = {"Authorization": f"Bearer {secrets['access token 2']}"}
        assert (await call("GET", "/me", headers=headers)).status_code == 200
        assert (await call("GET", "/sessions", headers=headers)).status_code == 200

        changed = await call(
            "POST",
            "/change-password",
            headers=headers,
            json={
                "current_password": passwords["registered"],
                "new_password": passwords["changed"],
            },
        )
        assert changed.status_code == 204
        secrets["hash after change"] = await password_hash(harness)

        assert (
            await call("POST", "/password-reset", json={"email": "ada@example.com"})
        ).status_code == 202
        await harness.settle()
        secrets["reset token"] = harness.last_token("ada@example.com", "Reset your password")
        confirmed = await call(
            "POST",
            "/password-reset/confirm",
            json={"token": secrets["reset token"], "new_password": passwords["reset"]},
        )
        assert confirmed.status_code == 200
        secrets["hash after reset"] = await password_hash(harness)

        login = await call(
            "POST", "/login", json={"username": "ada", "password": passwords["reset"]}
        )
        assert login.status_code == 200
        secrets["access token 3"] = login.json()["access_token"]
        secrets["refresh token 3"] = login.json()["refresh_token"]
        headers = {"Authorization": f"Bearer {secrets['access token 3']}"}
        assert (await call("GET", "/me", headers=headers)).status_code == 200
        assert (await call("POST", "/logout", headers=headers)).status_code == 204
        await harness.settle()

        audit_rows = [str(tuple(row)) for row in await harness.sql("SELECT * FROM audit_events")]

    log = server_log(capsys.readouterr().err)
    # The capture did see the flow: otherwise "nothing leaked" would prove nothing.
    assert '"route": "/api/v1/auth/password-reset/confirm"' in log
    assert '"event": "email_sent"' in log

    leaked = [name for name, value in secrets.items() if value in log]
    assert leaked == [], f"in the logs: {leaked}"
    assert "$argon2" not in log

    for response in responses:
        assert "$argon2" not in response.text, response.request.url
        for name, value in secrets.items():
            if name.startswith(("hash", "password")):
                assert value not in response.text, (name, response.request.url)

    assert len(audit_rows) >= 8
    in_audit = [name for name, value in secrets.items() if any(value in row for row in audit_rows)]
    assert in_audit == [], f"in the audit log: {in_audit}"
