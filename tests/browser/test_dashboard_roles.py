"""A viewer sees the numbers and no management control; the URLs of those controls
show a refusal, and the API behind them refuses too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.harness import assert_accessible, demo_login, screenshot, watched_context
from tests.e2e.server import READY_DEADLINE_S, Server, running_server
from tests.harness import PASSWORD

pytestmark = pytest.mark.e2e

DEMO_ON = {"PRODLENS_DEMO_ON_EMPTY": "true"}


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, env=DEMO_ON, ready_deadline_s=2 * READY_DEADLINE_S) as server:
        yield server


def bearer(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return {"Authorization": f"Bearer {answer.raise_for_status().json()['access_token']}"}


def test_a_viewer_sees_no_management(browser: Browser, demo_server: Server) -> None:
    owner = demo_login(demo_server.base_url)
    with httpx.Client(base_url=demo_server.base_url, timeout=60) as client:
        client.post(
            "/api/v1/auth/register",
            json={
                "email": "vic@example.com",
                "username": "vic",
                "password": PASSWORD,
                "display_name": "Vic Viewer",
            },
        ).raise_for_status()
        as_owner = bearer(client, owner.username, owner.password)
        (project,) = client.get("/api/v1/projects", headers=as_owner).json()["items"]
        client.post(
            f"/api/v1/projects/{project['id']}/members",
            json={"user": "vic", "role": "viewer"},
            headers=as_owner,
        ).raise_for_status()
        as_viewer = bearer(client, "vic", PASSWORD)
        # What the controls would call: refused by the API itself.
        base = f"/api/v1/projects/{project['id']}"
        for method, path in [
            ("GET", f"{base}/api-keys"),
            ("POST", f"{base}/api-keys"),
            ("POST", f"{base}/members"),
            ("PUT", f"{base}/metrics/targets"),
            ("PUT", f"{base}/integrations/github"),
            ("GET", "/api/v1/users"),
            ("GET", "/api/v1/audit"),
        ]:
            answer = client.request(method, path, headers=as_viewer, json={})
            assert answer.status_code in {403, 404}, (method, path, answer.status_code)

    with watched_context(browser, demo_server.base_url) as (context, _watch):
        page = context.new_page()
        page.goto("/sign-in")
        page.get_by_label("Username or email").fill("vic")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/projects/{project['id']}"))
        expect(page.locator("[data-kpi]").first).to_be_visible()
        project_nav = page.get_by_role("navigation", name="Project")
        expect(project_nav.get_by_role("link", name="Overview")).to_be_visible()
        expect(project_nav.get_by_role("link", name="Settings")).to_have_count(0)
        main_nav = page.get_by_role("navigation", name="Main")
        expect(main_nav.get_by_role("link", name="Users")).to_have_count(0)

        page.goto(f"/projects/{project['id']}/settings?section=keys")
        expect(page.get_by_text("You need the maintainer role")).to_be_visible()
        expect(page.get_by_role("button", name="Create key")).to_have_count(0)
        assert_accessible(page, "settings as a viewer")
        page.goto("/admin/users")
        expect(page.get_by_text("Administrators only")).to_be_visible()
        screenshot(page, "viewer-admin-refused")
