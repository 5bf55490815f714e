"""The dashboard's sign-in page shows the generated demo login, in development only."""

from __future__ import annotations

import stat

import pytest

from prodlens.analytics.demo import login, store
from prodlens.app import create_app
from tests.conftest import SettingsFactory, serving
from tests.harness import Harness


async def test_the_demo_login_serve_created_is_answered_and_signs_in(harness: Harness) -> None:
    assert (await harness.client.get("/api/v1/demo/login")).status_code == 404  # none yet
    created = await store.create_if_empty(harness.settings)
    assert created is not None
    answer = await harness.client.get("/api/v1/demo/login")
    assert answer.status_code == 200
    shown = answer.json()
    assert shown == {"username": "demo", "password": created.password, "project_slug": "demo"}
    signed_in = await harness.client.post(
        "/api/v1/auth/login", json={"username": shown["username"], "password": shown["password"]}
    )
    assert signed_in.status_code == 200
    me = await harness.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    )
    # Unmetered: the dashboard's pages would spend the free tier's hourly budget in minutes.
    assert me.json()["tier"] == store.DEMO_TIER == "enterprise"
    saved = harness.settings.data_dir / login.LOGIN_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600  # readable by the server's user only


@pytest.mark.parametrize("profile", ["staging", "production"])
async def test_no_demo_login_outside_development(
    make_sqlite_settings: SettingsFactory, profile: str
) -> None:
    development = make_sqlite_settings()
    login.save(development, login.DemoLogin(username="demo", password="x" * 16, project_slug="d"))
    other = make_sqlite_settings(
        env=profile,
        secret_key="a-test-secret-key-that-is-long-enough-" + "k" * 30,
        allow_sqlite_in_production=True,
    )
    async with serving(create_app(other)) as client:
        answer = await client.get("/api/v1/demo/login")
    assert answer.status_code == 404
    assert answer.json()["code"] == "demo.no_login"
    # Nor is one written there.
    (other.data_dir / login.LOGIN_FILE).unlink()
    login.save(other, login.DemoLogin(username="demo", password="x" * 16, project_slug="d"))
    assert not (other.data_dir / login.LOGIN_FILE).exists()
