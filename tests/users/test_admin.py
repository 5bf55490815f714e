"""Account administration by admins: /api/v1/users and /api/v1/audit."""

from __future__ import annotations

import pytest

from tests.harness import PASSWORD, Account, Harness


@pytest.fixture
async def admin(harness: Harness) -> Account:
    account = await harness.signup("root")
    await harness.make_admin(account)
    return account


async def test_list_search_filter_sort(harness: Harness, admin: Account) -> None:
    for name in ("carol", "bob", "alice"):
        harness.advance(seconds=1)  # distinct creation times
        await harness.signup(name)
    users = harness.client
    everyone = (await users.get("/api/v1/users", headers=admin.headers)).json()
    assert everyone["total"] == 4
    assert [u["username"] for u in everyone["items"]][:3] == [
        "alice",
        "bob",
        "carol",
    ]  # newest first

    by_name = await users.get("/api/v1/users", params={"sort": "username"}, headers=admin.headers)
    assert [u["username"] for u in by_name.json()["items"]] == ["alice", "bob", "carol", "root"]

    found = await users.get("/api/v1/users", params={"search": "BO"}, headers=admin.headers)
    assert [u["username"] for u in found.json()["items"]] == ["bob"]

    admins = await users.get("/api/v1/users", params={"role": "admin"}, headers=admin.headers)
    assert [u["username"] for u in admins.json()["items"]] == ["root"]

    paged = await users.get(
        "/api/v1/users",
        params={"page_size": 3, "page": 2, "sort": "username"},
        headers=admin.headers,
    )
    assert paged.json()["pages"] == 2
    assert [u["username"] for u in paged.json()["items"]] == ["root"]

    bad_sort = await users.get(
        "/api/v1/users", params={"sort": "password_hash"}, headers=admin.headers
    )
    assert bad_sort.status_code == 422
    assert bad_sort.json()["code"] == "pagination.invalid_sort"
    assert "password_hash" not in str(everyone)


async def test_non_admin_gets_403(harness: Harness) -> None:
    user = await harness.signup("mallory")
    response = await harness.client.get("/api/v1/users", headers=user.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "auth.admin_required"
    assert (await harness.client.get("/api/v1/audit", headers=user.headers)).status_code == 403


async def test_create_update_tier_and_role(harness: Harness, admin: Account) -> None:
    created = await harness.client.post(
        "/api/v1/users",
        json={
            "email": "dev@example.com",
            "username": "dev",
            "password": PASSWORD,
            "display_name": "Dev",
        },
        headers=admin.headers,
    )
    assert created.status_code == 201
    user = created.json()
    assert user["is_verified"] is True
    assert user["role"] == "user"
    assert user["tier"] == "free"
    assert (await harness.login("dev")).status_code == 200

    changed = await harness.client.patch(
        f"/api/v1/users/{user['id']}",
        json={"tier": "premium", "role": "admin"},
        headers=admin.headers,
    )
    assert changed.status_code == 200
    assert (changed.json()["tier"], changed.json()["role"]) == ("premium", "admin")

    duplicate = await harness.client.post(
        "/api/v1/users",
        json={
            "email": "DEV@example.com",
            "username": "dev2",
            "password": PASSWORD,
            "display_name": "D",
        },
        headers=admin.headers,
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "users.email_taken"

    events = await harness.client.get(
        "/api/v1/audit", params={"user_id": user["id"]}, headers=admin.headers
    )
    types = [event["event_type"] for event in events.json()["items"]]
    assert {"user.created", "user.role_changed", "user.tier_changed"} <= set(types)


async def test_deactivation_signs_out_everywhere(harness: Harness, admin: Account) -> None:
    user = await harness.signup("eve")
    me = await harness.client.get("/api/v1/auth/me", headers=user.headers)
    deactivated = await harness.client.patch(
        f"/api/v1/users/{me.json()['id']}", json={"is_active": False}, headers=admin.headers
    )
    assert deactivated.status_code == 200
    assert (await harness.client.get("/api/v1/auth/me", headers=user.headers)).status_code == 401
    refreshed = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}
    )
    assert refreshed.status_code == 401
    assert (await harness.login("eve")).status_code == 401


async def test_last_admin_and_self_protection(harness: Harness, admin: Account) -> None:
    me = (await harness.client.get("/api/v1/auth/me", headers=admin.headers)).json()
    demote = await harness.client.patch(
        f"/api/v1/users/{me['id']}", json={"role": "user"}, headers=admin.headers
    )
    assert demote.status_code == 409
    assert demote.json()["code"] == "users.last_admin"
    delete_self = await harness.client.delete(f"/api/v1/users/{me['id']}", headers=admin.headers)
    assert delete_self.json()["code"] == "users.self_change"


async def test_delete_user_and_unknown_ids(harness: Harness, admin: Account) -> None:
    user = await harness.signup("temp")
    user_id = (await harness.client.get("/api/v1/auth/me", headers=user.headers)).json()["id"]
    assert (
        await harness.client.delete(f"/api/v1/users/{user_id}", headers=admin.headers)
    ).status_code == 204
    missing = await harness.client.get(f"/api/v1/users/{user_id}", headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "users.not_found"
    assert (await harness.login("temp")).status_code == 401


async def test_unlock_lifts_lockout(harness: Harness, admin: Account) -> None:
    user = await harness.signup("locked")
    for _ in range(5):
        await harness.login("locked", "wrong-password-123")
    assert (await harness.login("locked")).status_code == 403
    user_id = (await harness.client.get("/api/v1/auth/me", headers=user.headers)).json()["id"]
    unlocked = await harness.client.post(f"/api/v1/users/{user_id}/unlock", headers=admin.headers)
    assert unlocked.status_code == 204
    assert (await harness.login("locked")).status_code == 200


async def test_admin_sees_user_sessions_and_audit(harness: Harness, admin: Account) -> None:
    user = await harness.signup("sam")
    await harness.login("sam", "not-the-password")
    user_id = (await harness.client.get("/api/v1/auth/me", headers=user.headers)).json()["id"]
    sessions = await harness.client.get(f"/api/v1/users/{user_id}/sessions", headers=admin.headers)
    assert len(sessions.json()) == 1

    failures = await harness.client.get(
        "/api/v1/audit", params={"event_type": "login.failure"}, headers=admin.headers
    )
    [failure] = failures.json()["items"]
    assert failure["identifier"] == "sam"
    assert failure["ip"]
    assert failure["user_agent"]
    assert "not-the-password" not in failures.text
