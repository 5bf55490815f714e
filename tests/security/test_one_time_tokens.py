"""Reset and verification tokens (SECURITY.md S16-S19, S21)."""

from __future__ import annotations

import re

import httpx

from tests.harness import Account, Harness, token_in

RESET = "Reset your password"
VERIFY = "Confirm your email address"
CHANGED = "Your password was changed"
NEW_PASSWORD = "amber-glacier-tundra-77"
OTHER_PASSWORD = "copper-meadow-sparrow-31"
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def reset_tokens(harness: Harness, to: str) -> list[str]:
    return [token_in(m) for m in harness.emails(to) if RESET in str(m["Subject"])]


async def request_reset(harness: Harness, account: Account) -> str:
    """Ask for a reset and return the token of the one new email it produced."""
    before = reset_tokens(harness, account.email)
    response = await harness.client.post(
        "/api/v1/auth/password-reset", json={"email": account.email}
    )
    assert response.status_code == 202
    await harness.settle()
    after = reset_tokens(harness, account.email)
    assert len(after) == len(before) + 1, "expected exactly one new reset email"
    return after[-1]


async def confirm(harness: Harness, token: str, password: str) -> httpx.Response:
    return await harness.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": password}
    )


def assert_token_invalid(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "auth.token_invalid"


async def test_s16_tokens_are_long_random_and_stored_hashed(harness: Harness) -> None:
    account = await harness.signup("ada")
    reset = await request_reset(harness, account)
    emailed = [harness.last_token(account.email, VERIFY), reset]

    for token in emailed:
        # 22 url-safe characters carry 132 bits.
        assert len(token) >= 22
        assert URL_SAFE.fullmatch(token), token
    assert emailed[0] != emailed[1]

    rows = await harness.sql("SELECT * FROM one_time_tokens")
    assert len(rows) == 2
    stored = [row.token_hash for row in rows]
    assert not set(stored) & set(emailed)
    # Not stored in any form that contains the token either (prefix, suffix, another column).
    assert not any(token in str(tuple(row)) for row in rows for token in emailed)
    # A leaked database value is not itself a usable token.
    for value in stored:
        assert_token_invalid(await confirm(harness, value, NEW_PASSWORD))


async def test_s17_reset_token_single_use_and_expiring(harness: Harness) -> None:
    account = await harness.signup("ada")
    token = await request_reset(harness, account)
    assert (await confirm(harness, token, NEW_PASSWORD)).status_code == 200
    assert_token_invalid(await confirm(harness, token, OTHER_PASSWORD))
    # The second use changed nothing.
    assert (await harness.login("ada", NEW_PASSWORD)).status_code == 200

    harness.advance(seconds=61)  # past the reset email cooldown
    late = await request_reset(harness, account)
    harness.advance(minutes=61)  # reset tokens live 60 minutes
    assert_token_invalid(await confirm(harness, late, OTHER_PASSWORD))
    assert (await harness.login("ada", NEW_PASSWORD)).status_code == 200


async def test_s18_newer_token_or_password_change_invalidates_older(harness: Harness) -> None:
    account = await harness.signup("ada")
    t1 = await request_reset(harness, account)
    harness.advance(seconds=61)  # past the reset email cooldown
    t2 = await request_reset(harness, account)

    # T1 is dead as soon as T2 exists, not only once T2 has been used.
    assert_token_invalid(await confirm(harness, t1, OTHER_PASSWORD))
    assert (await confirm(harness, t2, NEW_PASSWORD)).status_code == 200
    assert_token_invalid(await confirm(harness, t1, OTHER_PASSWORD))

    # A password change (not through a reset) also kills an outstanding reset token.
    account.password = NEW_PASSWORD
    await harness.sign_in(account)
    harness.advance(seconds=61)
    t3 = await request_reset(harness, account)
    changed = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"current_password": NEW_PASSWORD, "new_password": OTHER_PASSWORD},
        headers=account.headers,
    )
    assert changed.status_code == 204
    assert_token_invalid(await confirm(harness, t3, "never-used-password-55"))
    assert (await harness.login("ada", OTHER_PASSWORD)).status_code == 200


async def test_s19_reset_does_not_sign_in(harness: Harness) -> None:
    account = await harness.signup("ada")
    token = await request_reset(harness, account)
    sessions_before = await harness.sql("SELECT id FROM auth_sessions")

    response = await confirm(harness, token, NEW_PASSWORD)

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert set(response.json()) == {"detail"}
    # No session was opened, and the one from before the reset is closed.
    sessions = await harness.sql("SELECT id, revoked_at FROM auth_sessions")
    assert {row.id for row in sessions} == {row.id for row in sessions_before}
    assert all(row.revoked_at is not None for row in sessions)


async def test_s21_password_change_and_reset_are_notified(harness: Harness) -> None:
    account = await harness.signup("ada")
    changed = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"current_password": account.password, "new_password": NEW_PASSWORD},
        headers=account.headers,
    )
    assert changed.status_code == 204
    await harness.settle()
    notices = [m for m in harness.emails(account.email) if m["Subject"] == CHANGED]
    assert len(notices) == 1

    token = await request_reset(harness, account)
    assert (await confirm(harness, token, OTHER_PASSWORD)).status_code == 200
    await harness.settle()
    notices = [m for m in harness.emails(account.email) if m["Subject"] == CHANGED]
    assert len(notices) == 2
    for notice in notices:
        body = notice.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        # The notice says what happened, never the secret itself.
        assert NEW_PASSWORD not in text
        assert OTHER_PASSWORD not in text
