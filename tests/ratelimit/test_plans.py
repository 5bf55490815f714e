"""Subscription tiers: a plan's hourly budget, admins editing it, the usage endpoint."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from prodlens.ratelimit import plans
from tests.harness import Account, Harness


@pytest.fixture(autouse=True)
def no_plan_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plans, "CACHE_SECONDS", 0.0)


async def _admin(harness: Harness) -> Account:
    admin = await harness.signup("root")
    await harness.make_admin(admin)
    await harness.sql("UPDATE users SET tier = 'enterprise' WHERE username_key = 'root'")
    return admin


async def test_default_plans(harness: Harness) -> None:
    user = await harness.signup("dev")
    listed = await harness.client.get("/api/v1/plans", headers=user.headers)
    budgets = {plan["name"]: plan["requests_per_hour"] for plan in listed.json()}
    assert budgets == {"free": 100, "basic": 500, "premium": 2000, "enterprise": None}


async def test_plan_budget_is_enforced_and_reported(harness: Harness) -> None:
    admin = await _admin(harness)
    changed = await harness.client.patch(
        "/api/v1/plans/free", json={"requests_per_hour": 3}, headers=admin.headers
    )
    assert changed.status_code == 200
    user = await harness.signup("dev")
    usage = await harness.client.get("/api/v1/usage", headers=user.headers)  # 1st request
    body = usage.json()
    assert body["plan"] == "free"
    assert body["hourly"]["limit"] == 3
    assert body["hourly"]["used"] == 1
    assert body["hourly"]["remaining"] == 2
    statuses = [
        (await harness.client.get("/api/v1/auth/me", headers=user.headers)).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_upgrading_the_tier_lifts_the_budget(harness: Harness) -> None:
    admin = await _admin(harness)
    await harness.client.patch(
        "/api/v1/plans/free", json={"requests_per_hour": 1}, headers=admin.headers
    )
    user = await harness.signup("dev")
    assert (await harness.client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200
    assert (await harness.client.get("/api/v1/auth/me", headers=user.headers)).status_code == 429
    user_id = (await harness.sql("SELECT id FROM users WHERE username_key = 'dev'"))[0][0]
    await harness.client.patch(
        f"/api/v1/users/{user_id}", json={"tier": "enterprise"}, headers=admin.headers
    )
    usage = await harness.client.get("/api/v1/usage", headers=user.headers)
    assert usage.status_code == 200
    assert usage.json()["hourly"]["limit"] is None


async def test_only_admins_edit_plans(harness: Harness) -> None:
    user = await harness.signup("dev")
    response = await harness.client.patch(
        "/api/v1/plans/free", json={"requests_per_hour": 100000}, headers=user.headers
    )
    assert response.status_code == 403
    admin = await _admin(harness)
    missing = await harness.client.patch(
        "/api/v1/plans/platinum", json={"requests_per_hour": 5}, headers=admin.headers
    )
    assert missing.status_code == 404


async def test_admins_are_not_metered(harness: Harness) -> None:
    admin = await harness.signup("root")
    await harness.make_admin(admin)  # still on the free plan
    await harness.client.patch(
        "/api/v1/plans/free", json={"requests_per_hour": 1}, headers=admin.headers
    )
    statuses = {
        (await harness.client.get("/api/v1/users", headers=admin.headers)).status_code
        for _ in range(3)
    }
    assert statuses == {200}


async def test_description_only_update_keeps_the_budget(harness: Harness) -> None:
    admin = await _admin(harness)
    response = await harness.client.patch(
        "/api/v1/plans/basic", json={"description": "For small teams"}, headers=admin.headers
    )
    assert response.json()["requests_per_hour"] == 500
    assert response.json()["description"] == "For small teams"
    unlimited = await harness.client.patch(
        "/api/v1/plans/basic", json={"requests_per_hour": None}, headers=admin.headers
    )
    assert unlimited.json()["requests_per_hour"] is None


async def test_plans_read_while_a_change_commits_are_read_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request reading the plans while an admin's change commits sees the old
    budget; the worker drops its cache after the commit, so it does not keep it."""
    monkeypatch.setattr(plans, "CACHE_SECONDS", 3600.0)
    admin = await _admin(harness)
    book: plans.PlanBook = harness.app.state.plans
    pending = [True]

    def read_plans_meanwhile(_session: Session) -> None:
        if pending:
            pending.clear()
            await_only(book.budget("free"))

    event.listen(Session, "before_commit", read_plans_meanwhile)
    try:
        changed = await harness.client.patch(
            "/api/v1/plans/free", json={"requests_per_hour": 3}, headers=admin.headers
        )
    finally:
        event.remove(Session, "before_commit", read_plans_meanwhile)
    assert changed.status_code == 200
    assert not pending  # the read ran during the commit

    user = await harness.signup("dev")
    usage = await harness.client.get("/api/v1/usage", headers=user.headers)
    assert usage.json()["hourly"]["limit"] == 3
