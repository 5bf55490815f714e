"""Password rules and storage (SECURITY.md S01, S02, S04 to S07), seen over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import HarnessFactory
from tests.harness import PASSWORD, Account, Harness

OWASP_ARGON2_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"


async def stored_hash(harness: Harness, username: str) -> str:
    [(password_hash,)] = await harness.sql(
        "SELECT password_hash FROM users WHERE username_key = :u", u=username
    )
    return str(password_hash)


async def change_password(harness: Harness, account: Account, **body: Any) -> httpx.Response:
    return await harness.client.post(
        "/api/v1/auth/change-password", json=body, headers=account.headers
    )


async def request_reset_token(harness: Harness, email_address: str) -> str:
    response = await harness.client.post(
        "/api/v1/auth/password-reset", json={"email": email_address}
    )
    assert response.status_code == 202
    await harness.settle()
    return harness.last_token(email_address, "Reset your password")


def count_calls(
    monkeypatch: pytest.MonkeyPatch, target: object, name: str, calls: list[str]
) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(target, name)

    async def counted(*args: Any) -> Any:
        calls.append(name)
        return await original(*args)

    monkeypatch.setattr(target, name, counted)


def assert_weak(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "auth.weak_password"


async def test_s01_length_8_to_128_any_unicode(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Out-of-range passwords must be refused before argon2 runs (no CPU spent on them).
    hashing: list[str] = []
    hasher = harness.app.state.auth.hasher
    count_calls(monkeypatch, hasher, "hash", hashing)
    count_calls(monkeypatch, hasher, "verify", hashing)

    too_short = await harness.register("shorty", password="tj4w mq")
    assert too_short.status_code == 422
    assert too_short.json()["code"] == "validation.failed"
    too_long_password = ("river ümlaut 7 zebra " * 7)[:129]
    too_long = await harness.register("longo", password=too_long_password)
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "validation.failed"
    assert {e["field"] for e in too_long.json()["errors"]} == {"body.password"}
    too_long_login = await harness.login("longo", too_long_password)
    assert too_long_login.status_code == 422
    assert hashing == []
    assert await harness.sql("SELECT id FROM users") == []

    # No composition rules: lower-case letters, a digit and a space are enough.
    assert (await harness.register("eight", password="tj4w mq8")).status_code == 201
    assert (await harness.register("maxed", password=too_long_password[:128])).status_code == 201
    assert len(too_long_password[:128]) == 128
    unicode_password = "correct horse 🐎 battery"
    assert (await harness.register("dora", password=unicode_password)).status_code == 201
    assert (await harness.login("dora", unicode_password)).status_code == 200
    assert (await harness.login("maxed", too_long_password[:128])).status_code == 200


async def test_s02_no_truncation_or_case_folding(harness: Harness) -> None:
    password = ("lantern orbit quiet meadow falcon " * 4)[:100]
    account = await harness.signup("ada", password=password)

    # bcrypt would accept the first 72 bytes; argon2 must see every character.
    assert (await harness.login(account.username, password[:72])).status_code == 401
    assert (await harness.login(account.username, password[:99] + "x")).status_code == 401
    assert (await harness.login(account.username, password.upper())).status_code == 401
    assert (await harness.login(account.username, password)).status_code == 200


async def test_s04_common_passwords_rejected_everywhere(harness: Harness) -> None:
    account = await harness.signup("ada")
    hash_before = await stored_hash(harness, "ada")
    for weak in ("password1234", "qwertyuiop"):
        assert_weak(await harness.register("grace", password=weak))
        assert_weak(
            await change_password(harness, account, current_password=PASSWORD, new_password=weak)
        )

    token = await request_reset_token(harness, account.email)
    for weak in ("password1234", "qwertyuiop"):
        assert_weak(
            await harness.client.post(
                "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": weak}
            )
        )

    assert await harness.sql("SELECT id FROM users WHERE username_key = 'grace'") == []
    assert await stored_hash(harness, "ada") == hash_before
    # A refused weak password does not use up the reset token.
    confirmed = await harness.client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "amber-quokka-travels-9"},
    )
    assert confirmed.status_code == 200


async def test_s05_context_words_rejected(harness: Harness) -> None:
    def register(password: str) -> Awaitable[httpx.Response]:
        return harness.register(
            "marguerite", email_address="m.curie@example.com", password=password
        )

    assert_weak(await register("my name is Marguerite!"))  # the username, any case
    assert_weak(await register("hello-M.Curie-2024"))  # the email's local part
    assert await harness.sql("SELECT id FROM users") == []
    # The same account with an unrelated password is fine: the context caused the refusals.
    assert (await register("amber-quokka-travels-9")).status_code == 201

    account = Account("m.curie@example.com", "marguerite", "amber-quokka-travels-9")
    await harness.sign_in(account)
    changed = await change_password(
        harness, account, current_password=account.password, new_password="xx-marguerite-xx"
    )
    assert_weak(changed)


async def test_s06_change_password_needs_current_one(harness: Harness) -> None:
    account = await harness.signup("ada")
    hash_before = await stored_hash(harness, "ada")
    new = "amber-quokka-travels-9"

    missing = await change_password(harness, account, new_password=new)
    assert missing.status_code == 400
    assert missing.json()["code"] == "auth.current_password_required"
    empty = await change_password(harness, account, current_password="", new_password=new)
    assert empty.status_code == 400
    wrong = await change_password(
        harness, account, current_password="not-my-password-1", new_password=new
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "auth.wrong_password"

    assert await stored_hash(harness, "ada") == hash_before
    assert (await harness.login("ada", new)).status_code == 401
    assert (await harness.login("ada", PASSWORD)).status_code == 200


async def test_s07_argon2id_owasp_parameters_and_rehash(
    harness: Harness, make_harness: HarnessFactory
) -> None:
    await harness.signup("ada")
    original = await stored_hash(harness, "ada")
    assert original.startswith(OWASP_ARGON2_PREFIX)

    # A second app on the same database with a raised time cost, as after a config change.
    async with make_harness(auth={"argon2_time_cost": 3}) as raised:
        assert (await raised.login("ada", "wrong-password-here")).status_code == 401
        assert await stored_hash(raised, "ada") == original  # only a verified login rehashes
        assert (await raised.login("ada")).status_code == 200
        rehashed = await stored_hash(raised, "ada")
        assert rehashed.startswith("$argon2id$v=19$m=19456,t=3,p=1$")
        assert (await raised.login("ada")).status_code == 200
