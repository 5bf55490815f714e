"""Login hardening (SECURITY.md S03, S08, S09, S12, S13), seen over HTTP."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import AsyncIterator

import httpx

from tests.conftest import HarnessFactory
from tests.harness import PASSWORD, Harness

LOGIN = "/api/v1/auth/login"
# A fixed correlation id makes two problem bodies comparable byte for byte.
SAME_ID = {"X-Correlation-ID": "same-for-both"}
# Per-IP and per-identifier rate limits (S14) would answer 429 first; these tests are about
# what holds without them, as against an attacker spread over many addresses.
NO_RATE_LIMITS = {"enabled": False}


async def login_as_client(
    harness: Harness, identifier: str, password: str, headers: dict[str, str]
) -> httpx.Response:
    return await harness.client.post(
        LOGIN, json={"username": identifier, "password": password}, headers=headers
    )


async def timed_failed_login(harness: Harness, identifier: str) -> float:
    started = time.perf_counter()
    response = await harness.login(identifier, "wrong-password-here")
    elapsed = time.perf_counter() - started
    assert response.status_code == 401
    return elapsed


async def test_s03_oversized_body_rejected_early(harness: Harness) -> None:
    # "Early" is measured in bytes the server pulled, not in seconds: a loaded machine
    # cannot make it flaky, and reading the whole body before refusing it fails it.
    limit = harness.settings.http.max_body_bytes
    body = json.dumps({"username": "ada", "password": "x" * (2 * limit)}).encode()
    chunk = 64 * 1024
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        for start in range(0, len(body), chunk):
            pulled += chunk
            yield body[start : start + chunk]

    # A declared Content-Length over the limit is refused before the body is read.
    declared = await harness.client.post(
        LOGIN,
        content=chunks(),
        headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    assert declared.status_code == 413
    assert declared.json()["code"] == "http.payload_too_large"
    assert pulled <= chunk

    # Without Content-Length (chunked) the body is counted as it arrives and refused at the
    # limit, without reading the rest.
    pulled = 0
    streamed = await harness.client.post(
        LOGIN, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "http.payload_too_large"
    assert pulled <= limit + chunk < len(body)


async def test_s08_login_failures_are_generic(harness: Harness) -> None:
    await harness.register("ada")
    agent = {"User-Agent": "s08-probe/1.0", **SAME_ID}
    wrong_password = "wrong-password-s08"

    for existing, unknown in (("ada", "nobody"), ("ada@example.com", "nobody@example.com")):
        known = await login_as_client(harness, existing, wrong_password, agent)
        missing = await login_as_client(harness, unknown, wrong_password, agent)
        assert known.status_code == missing.status_code == 401
        assert known.json()["code"] == missing.json()["code"] == "auth.invalid_credentials"
        assert known.content == missing.content
        assert known.headers["WWW-Authenticate"] == missing.headers["WWW-Authenticate"]

    # Every failure is audited with where it came from, and never with the password.
    rows = await harness.sql(
        "SELECT identifier, ip, user_agent, user_id, details FROM audit_events"
        " WHERE event_type = 'login.failure' ORDER BY occurred_at"
    )
    assert len(rows) == 4
    assert {row.identifier for row in rows} == {
        "ada",
        "nobody",
        "ada@example.com",
        "nobody@example.com",
    }
    assert all(row.ip == "127.0.0.1" and row.user_agent == "s08-probe/1.0" for row in rows)
    # Successes too (SECURITY.md: every login success and failure is audited).
    assert (await login_as_client(harness, "ada", PASSWORD, agent)).status_code == 200
    [success] = await harness.sql(
        "SELECT ip, user_agent FROM audit_events WHERE event_type = 'login.success'"
    )
    assert (success.ip, success.user_agent) == ("127.0.0.1", "s08-probe/1.0")
    everything = [str(tuple(row)) for row in await harness.sql("SELECT * FROM audit_events")]
    assert not [row for row in everything if wrong_password in row or PASSWORD in row]


async def test_s09_login_timing_independent_of_existence(make_harness: HarnessFactory) -> None:
    # A high threshold keeps the lockout (which answers without hashing) out of the samples.
    async with make_harness(
        auth={"lockout_threshold": 1000}, rate_limits=NO_RATE_LIMITS
    ) as harness:
        await harness.register("ada")
        for _ in range(5):  # warm up connections, caches and argon2's memory
            await timed_failed_login(harness, "ada")
            await timed_failed_login(harness, "nobody")
        known: list[float] = []
        unknown: list[float] = []
        for _ in range(50):  # interleaved, so machine load drifts hit both sides alike
            known.append(await timed_failed_login(harness, "ada"))
            unknown.append(await timed_failed_login(harness, "nobody"))

    # 10 ms on an idle machine; on a loaded one every request slows down alike, so the bound
    # grows with the medians (a fifth of the slower one). Skipping the dummy hash for unknown
    # accounts makes them answer in a small fraction of the time and fails either way.
    slower = max(statistics.median(known), statistics.median(unknown))
    difference = abs(statistics.median(known) - statistics.median(unknown))
    assert difference < max(0.010, 0.2 * slower), (
        f"median login time differs by {difference * 1000:.1f} ms "
        f"(known {statistics.median(known) * 1000:.1f} ms, "
        f"unknown {statistics.median(unknown) * 1000:.1f} ms)"
    )


async def test_s12_lockout_per_identifier_known_or_not(make_harness: HarnessFactory) -> None:
    async with make_harness(rate_limits=NO_RATE_LIMITS) as harness:
        await harness.register("ada")
        await harness.signup("bob")

        for identifier in ("ada", "ghost"):  # an account, and a name no account has
            for _ in range(5):
                failed = await harness.login(identifier, "wrong-password-here")
                assert failed.status_code == 401
                assert failed.json()["code"] == "auth.invalid_credentials"

        locked = await login_as_client(harness, "ada", PASSWORD, SAME_ID)  # the right password
        assert locked.status_code == 403
        assert locked.json()["code"] == "auth.account_locked"
        ghost = await login_as_client(harness, "ghost", PASSWORD, SAME_ID)
        assert ghost.status_code == 403
        # The lock looks the same whether or not the account exists.
        assert ghost.content == locked.content
        assert ghost.headers["Retry-After"] == locked.headers["Retry-After"]
        assert 0 < int(locked.headers["Retry-After"]) <= 30 * 60

        assert (await harness.login("bob")).status_code == 200  # other identifiers unaffected
        harness.advance(minutes=31)
        assert (await harness.login("ada")).status_code == 200


async def test_s13_locked_account_can_reset_password(harness: Harness) -> None:
    await harness.register("ada")
    for _ in range(5):
        await harness.login("ada", "wrong-password-here")
    locked = await harness.login("ada")
    assert locked.status_code == 403
    assert locked.json()["code"] == "auth.account_locked"

    requested = await harness.client.post(
        "/api/v1/auth/password-reset", json={"email": "ada@example.com"}
    )
    assert requested.status_code == 202
    await harness.settle()
    token = harness.last_token("ada@example.com", "Reset your password")
    new_password = "amber-quokka-travels-9"
    confirmed = await harness.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
    )
    assert confirmed.status_code == 200

    # No waiting out the 30 minutes: the reset lifted the lock.
    assert (await harness.login("ada", new_password)).status_code == 200
