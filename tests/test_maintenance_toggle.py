"""Admins switch maintenance mode at run time; it is stored, so every worker follows."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from prodlens.http import maintenance
from tests.conftest import harness_for
from tests.harness import Harness


@pytest.fixture(autouse=True)
def reload_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maintenance, "RELOAD_SECONDS", 0.0)


async def test_admin_toggle_blocks_users_but_not_admins(harness: Harness) -> None:
    admin = await harness.signup("root")
    await harness.make_admin(admin)
    user = await harness.signup("dev")

    switched = await harness.client.put(
        "/api/v1/admin/maintenance", json={"enabled": True}, headers=admin.headers
    )
    assert switched.json() == {"enabled": True, "forced_by_setting": False}

    blocked = await harness.client.get("/api/v1/auth/me", headers=user.headers)
    assert blocked.status_code == 503
    assert blocked.json()["code"] == "service.maintenance"
    assert "retry-after" in blocked.headers
    assert (await harness.client.get("/api/v1/config")).status_code == 503
    assert (await harness.client.get("/health/ready")).status_code == 200
    # Admins sign in and keep working.
    await harness.sign_in(admin)
    assert (await harness.client.get("/api/v1/users", headers=admin.headers)).status_code == 200

    audit = await harness.client.get(
        "/api/v1/audit", params={"event_type": "system.maintenance"}, headers=admin.headers
    )
    assert audit.json()["total"] == 1

    off = await harness.client.put(
        "/api/v1/admin/maintenance", json={"enabled": False}, headers=admin.headers
    )
    assert off.json()["enabled"] is False
    assert (await harness.client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200


async def test_stored_flag_reaches_another_worker(harness: Harness) -> None:
    """A second app on the same database (another worker) follows the stored flag."""
    admin = await harness.signup("root")
    await harness.make_admin(admin)
    await harness.client.put(
        "/api/v1/admin/maintenance", json={"enabled": True}, headers=admin.headers
    )
    async with harness_for(harness.settings) as other_worker:
        assert (await other_worker.client.get("/api/v1/config")).status_code == 503


async def test_non_admin_cannot_toggle(harness: Harness) -> None:
    user = await harness.signup("dev")
    response = await harness.client.put(
        "/api/v1/admin/maintenance", json={"enabled": True}, headers=user.headers
    )
    assert response.status_code == 403


async def test_a_rolled_back_switch_leaves_this_worker_as_it_was(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker follows a change only once it is committed; told before, a failed commit
    would leave it in maintenance, against the stored flag, until its next reload."""
    monkeypatch.setattr(maintenance, "RELOAD_SECONDS", 3600.0)
    admin = await harness.signup("root")
    await harness.make_admin(admin)
    user = await harness.signup("dev")

    def refuse(_session: Session) -> None:
        raise RuntimeError("the commit fails")

    event.listen(Session, "before_commit", refuse)
    try:
        failed = await harness.client.put(
            "/api/v1/admin/maintenance", json={"enabled": True}, headers=admin.headers
        )
    finally:
        event.remove(Session, "before_commit", refuse)
    assert failed.status_code == 500

    state = await harness.client.get("/api/v1/admin/maintenance", headers=admin.headers)
    assert state.json()["enabled"] is False
    assert (await harness.client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200
