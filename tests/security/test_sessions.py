"""Server-side sessions: revocation, rotation, timeouts (SECURITY.md S20, S22-S25)."""

from __future__ import annotations

import httpx

from tests.harness import Account, Harness

NEW_PASSWORD = "amber-glacier-tundra-77"
OTHER_PASSWORD = "copper-meadow-sparrow-31"


async def me(harness: Harness, account: Account) -> httpx.Response:
    return await harness.client.get("/api/v1/auth/me", headers=account.headers)


async def refresh(harness: Harness, refresh_token: str) -> httpx.Response:
    return await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def another_session(harness: Harness, account: Account) -> Account:
    """The same account signed in a second time (another device)."""
    return await harness.sign_in(Account(account.email, account.username, account.password))


async def assert_signed_out(harness: Harness, account: Account) -> None:
    """Both of the session's tokens are refused now, not at their expiry."""
    access = await me(harness, account)
    assert access.status_code == 401, access.text
    assert access.json()["code"] == "auth.invalid_token"
    renewed = await refresh(harness, account.refresh_token)
    assert renewed.status_code == 401, renewed.text
    assert renewed.json()["code"] == "auth.invalid_refresh_token"


async def assert_signed_in(harness: Harness, account: Account) -> None:
    assert (await me(harness, account)).status_code == 200


async def test_s20_password_change_and_reset_revoke_other_sessions(harness: Harness) -> None:
    a = await harness.signup("ada")
    b = await another_session(harness, a)

    changed = await harness.client.post(
        "/api/v1/auth/change-password",
        json={"current_password": a.password, "new_password": NEW_PASSWORD},
        headers=a.headers,
    )
    assert changed.status_code == 204
    await assert_signed_out(harness, b)
    await assert_signed_in(harness, a)  # the session that made the change stays

    # A reset (someone who only has the mailbox) ends every session, A's too.
    a.password = NEW_PASSWORD
    c = await another_session(harness, a)
    assert (
        await harness.client.post("/api/v1/auth/password-reset", json={"email": a.email})
    ).status_code == 202
    await harness.settle()
    token = harness.last_token(a.email, "Reset your password")
    confirmed = await harness.client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": OTHER_PASSWORD},
    )
    assert confirmed.status_code == 200
    await assert_signed_out(harness, a)
    await assert_signed_out(harness, c)


async def test_s22_logout_invalidates_server_side(harness: Harness) -> None:
    account = await harness.signup("ada")
    other = await another_session(harness, account)

    logout = await harness.client.post("/api/v1/auth/logout", headers=account.headers)
    assert logout.status_code == 204
    await assert_signed_out(harness, account)
    await assert_signed_in(harness, other)  # logout ends this session only

    everywhere = await harness.client.post("/api/v1/auth/logout-all", headers=other.headers)
    assert everywhere.status_code == 204
    await assert_signed_out(harness, other)


async def test_s23_sessions_listed_and_revocable(harness: Harness) -> None:
    a = await harness.signup("ada")
    b = await another_session(harness, a)

    listed = await harness.client.get("/api/v1/auth/sessions", headers=a.headers)
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    [current] = [s for s in sessions if s["current"]]
    [other] = [s for s in sessions if not s["current"]]
    assert {"device", "ip", "user_agent", "created_at", "last_used_at"} <= set(other)

    revoked = await harness.client.delete(f"/api/v1/auth/sessions/{other['id']}", headers=a.headers)
    assert revoked.status_code == 204
    await assert_signed_out(harness, b)
    await assert_signed_in(harness, a)
    remaining = await harness.client.get("/api/v1/auth/sessions", headers=a.headers)
    assert [s["id"] for s in remaining.json()] == [current["id"]]

    # Another user cannot end this user's session (and learns nothing about it).
    mallory = await harness.signup("mallory")
    foreign = await harness.client.delete(
        f"/api/v1/auth/sessions/{current['id']}", headers=mallory.headers
    )
    assert foreign.status_code == 404
    await assert_signed_in(harness, a)


async def test_s23_admin_deactivation_kills_all_sessions(harness: Harness) -> None:
    user = await harness.signup("ada")
    second = await another_session(harness, user)
    user_id = (await me(harness, user)).json()["id"]
    admin = await harness.signup("root")
    await harness.make_admin(admin)
    await harness.sign_in(admin)  # a session that started with the admin role

    deactivated = await harness.client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": False}, headers=admin.headers
    )
    assert deactivated.status_code == 200, deactivated.text
    await assert_signed_out(harness, user)
    await assert_signed_out(harness, second)
    assert (await harness.login("ada")).status_code == 401
    await assert_signed_in(harness, admin)

    # The sessions are killed, not merely suspended: reactivation does not revive them.
    reactivated = await harness.client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": True}, headers=admin.headers
    )
    assert reactivated.status_code == 200, reactivated.text
    await assert_signed_out(harness, user)
    await assert_signed_out(harness, second)


async def test_s24_refresh_reuse_revokes_family(harness: Harness) -> None:
    account = await harness.signup("ada")
    rt1 = account.refresh_token

    first = await refresh(harness, rt1)
    assert first.status_code == 200
    rt2 = first.json()["refresh_token"]
    assert rt2 != rt1
    # Within the grace window a retry (two tabs racing) is answered, not punished.
    harness.advance(seconds=5)
    retry = await refresh(harness, rt1)
    assert retry.status_code == 200
    rt2b = retry.json()["refresh_token"]

    harness.advance(seconds=11)  # past the 10 s grace window
    reused = await refresh(harness, rt1)
    assert reused.status_code == 401
    assert reused.json()["code"] == "auth.refresh_token_reused"
    # The whole family is gone: every refresh token and access token of the session.
    for token in (rt2, rt2b):
        later = await refresh(harness, token)
        assert later.status_code == 401, later.text
    holder = Account(account.email, account.username, account.password)
    holder.access_token = first.json()["access_token"]
    assert (await me(harness, holder)).status_code == 401
    # The owner signs in again with the password.
    assert (await harness.login("ada")).status_code == 200


async def test_s25_idle_and_absolute_session_timeouts(harness: Harness) -> None:
    idle_minutes = harness.settings.auth.session_idle_minutes
    lifetime_hours = harness.settings.auth.refresh_token_days * 24

    idle = await harness.signup("ada")
    harness.advance(minutes=idle_minutes - 5)
    kept = await refresh(harness, idle.refresh_token)  # activity restarts the idle clock
    assert kept.status_code == 200
    harness.advance(minutes=idle_minutes + 1)
    expired = await refresh(harness, kept.json()["refresh_token"])
    assert expired.status_code == 401
    assert expired.json()["code"] == "auth.invalid_refresh_token"

    # Used often enough never to be idle, the session still ends at its absolute lifetime.
    busy = await harness.signup("grace")
    step_hours = idle_minutes / 60 - 1
    token, elapsed = busy.refresh_token, 0.0
    while elapsed + step_hours < lifetime_hours:
        harness.advance(hours=step_hours)
        elapsed += step_hours
        renewed = await refresh(harness, token)
        assert renewed.status_code == 200, f"refused after {elapsed} h"
        token = renewed.json()["refresh_token"]
    harness.advance(hours=step_hours)
    assert elapsed + step_hours > lifetime_hours
    ended = await refresh(harness, token)
    assert ended.status_code == 401
    assert ended.json()["code"] == "auth.invalid_refresh_token"
