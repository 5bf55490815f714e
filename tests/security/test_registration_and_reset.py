"""Account enumeration and reset abuse (SECURITY.md S10, S11, S15), seen over HTTP."""

from __future__ import annotations

import asyncio
import statistics
import time
from email.message import EmailMessage

import httpx
import pytest

from tests.conftest import HarnessFactory
from tests.harness import PASSWORD, Harness

RESET = "/api/v1/auth/password-reset"
RESET_SUBJECT = "Reset your password"
# The per-IP limit on reset requests (S14) would answer 429 first; these tests are about
# what holds without it, as against requests spread over many addresses.
NO_RATE_LIMITS = {"enabled": False}
SMTP_SECONDS = 0.025


async def request_reset(harness: Harness, email_address: str) -> httpx.Response:
    return await harness.client.post(RESET, json={"email": email_address})


def subjects(harness: Harness, to: str) -> list[str]:
    return [str(message["Subject"]) for message in harness.emails(to)]


async def test_s10_registration_does_not_reveal_existing_accounts(harness: Harness) -> None:
    assert (await harness.register("ada")).status_code == 201
    await harness.settle()

    again = await harness.register(
        "mallory", email_address="ADA@example.com", password="quiet-takeover-attempt-7"
    )
    fresh = await harness.register("grace")
    assert again.status_code == fresh.status_code == 201
    assert again.content == fresh.content
    await harness.settle()

    assert subjects(harness, "ada@example.com") == [
        "Confirm your email address",
        "You already have a ProdLens account",
    ]
    assert subjects(harness, "grace@example.com") == ["Confirm your email address"]
    # The second registration changed nothing: no new account, the owner's password holds.
    assert await harness.sql("SELECT id FROM users WHERE username_key = 'mallory'") == []
    assert (await harness.login("ada", "quiet-takeover-attempt-7")).status_code == 401
    assert (await harness.login("ada", PASSWORD)).status_code == 200


async def test_s11_reset_request_reveals_nothing(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No cooldown: every request for the real account does the full work (token, email),
    # so answering only after that work would show up in the timings.
    async with make_harness(
        auth={"reset_email_cooldown_seconds": 0}, rate_limits=NO_RATE_LIMITS
    ) as harness:
        await harness.register("ada")
        await harness.settle()
        # Delivery as slow as a real SMTP exchange; the outbox alone is too fast to notice.
        transport = harness.app.state.auth.mailer.transport
        deliver = transport.deliver

        async def slow_deliver(message: EmailMessage) -> None:
            await asyncio.sleep(SMTP_SECONDS)
            await deliver(message)

        monkeypatch.setattr(transport, "deliver", slow_deliver)

        async def timed(email_address: str) -> tuple[float, httpx.Response]:
            started = time.perf_counter()
            response = await request_reset(harness, email_address)
            elapsed = time.perf_counter() - started
            await harness.settle()  # background work of one sample must not slow the next
            return elapsed, response

        for _ in range(5):  # warm up
            await timed("ada@example.com")
            await timed("nobody@example.com")
        known: list[float] = []
        unknown: list[float] = []
        for _ in range(50):  # interleaved, so machine load drifts hit both sides alike
            known_seconds, known_response = await timed("ada@example.com")
            unknown_seconds, unknown_response = await timed("nobody@example.com")
            assert known_response.status_code == unknown_response.status_code == 202
            assert known_response.content == unknown_response.content
            known.append(known_seconds)
            unknown.append(unknown_seconds)

        assert subjects(harness, "ada@example.com").count(RESET_SUBJECT) == 55
        assert harness.emails("nobody@example.com") == []

    difference = abs(statistics.median(known) - statistics.median(unknown))
    assert difference < 0.010, f"median request time differs by {difference * 1000:.1f} ms"


async def test_s15_reset_emails_throttled_per_account(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_harness(rate_limits=NO_RATE_LIMITS) as harness:
        await harness.register("ada")
        await harness.settle()
        # Shared state answers after a network round trip, so concurrent requests all read
        # the last-sent time before any of them writes it (as across workers on Redis).
        store = harness.app.state.auth.store
        get = store.get

        async def slow_get(key: str) -> str | None:
            value: str | None = await get(key)
            await asyncio.sleep(0.02)
            return value

        monkeypatch.setattr(store, "get", slow_get)

        # A burst sent at once, as a script flooding someone's inbox would, then one more later.
        burst = await asyncio.gather(
            *(request_reset(harness, "ada@example.com") for _ in range(10))
        )
        await harness.settle()
        harness.advance(seconds=30)
        later = await request_reset(harness, "ada@example.com")
        await harness.settle()
        for response in [*burst, later]:
            assert response.status_code == 202
            assert response.content == later.content
        assert subjects(harness, "ada@example.com").count(RESET_SUBJECT) == 1

        harness.advance(seconds=31)  # 61 s after the email: the next request sends again
        assert (await request_reset(harness, "ada@example.com")).status_code == 202
        await harness.settle()
        assert subjects(harness, "ada@example.com").count(RESET_SUBJECT) == 2
