"""The dashboard in a real Chromium, as an engineering lead uses it: sign in with the
demo login, read the overview, watch it follow new events live, change the window and
a filter, manage an API key, sign out. On SQLite (the embedded default) and on
PostgreSQL + Redis with two workers. Every page is checked with axe-core, and any
request to another origin fails the test (tests/browser/harness.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.harness import (
    PHONE,
    Login,
    assert_accessible,
    demo_login,
    screenshot,
    watched_context,
)
from tests.conftest import Services
from tests.e2e.server import READY_DEADLINE_S, Server, running_server

pytestmark = pytest.mark.e2e

DEMO_ON = {"PRODLENS_DEMO_ON_EMPTY": "true"}
# SPEC §9 / the dashboard issue: new events show on the overview within 2 s, no reload.
LIVE_DEADLINE_MS = 2_000
OVERVIEW = re.compile(r"/projects/[^/?]+(\?.*)?$")


class Api:
    """The same server through its API, as the demo user: the numbers to compare with."""

    def __init__(self, base_url: str, login: Login) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        answer = self.http.post(
            "/api/v1/auth/login", json={"username": login.username, "password": login.password}
        ).raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(path, params=params).raise_for_status().json()

    def project_id(self) -> str:
        (project,) = self.get("/api/v1/projects")["items"]
        return str(project["id"])

    def kpis(self, project: str, since: str, until: str, **filters: str) -> dict[str, float | None]:
        report = self.get(
            f"/api/v1/projects/{project}/metrics", since=since, until=until, **filters
        )
        return {kpi["name"]: kpi["value"] for kpi in report["kpis"]}

    def ingest(self, project: str, session_id: str, count: int, **headers: str) -> httpx.Response:
        now = datetime.now(UTC)
        events = [
            {
                "event_id": f"{session_id}-{index}",
                "session_id": session_id,
                "developer_id": "browser-test",
                "started_at": (now - timedelta(seconds=5)).isoformat(),
                "ended_at": now.isoformat(),
                "request_model": "gpt-4o",
                "input_tokens": 1000,
                "output_tokens": 100,
                "accepted": True,
            }
            for index in range(count)
        ]
        if headers:
            return httpx.post(
                f"{self.http.base_url}/api/v1/ingest/events", json=events, headers=headers
            )
        return self.http.post(f"/api/v1/projects/{project}/ingest/events", json=events)


# One read of the cards and the window they are for, so a live update cannot fall between.
READ_CARDS = """() => {
  const grid = document.querySelector(".kpi-grid[data-since][data-until]");
  const cards = [...document.querySelectorAll("[data-kpi]")];
  return {
    since: grid.dataset.since,
    until: grid.dataset.until,
    values: Object.fromEntries(cards.map((card) => [card.dataset.kpi, card.dataset.value])),
  };
}"""


def kpi_grid(page: Page) -> Locator:
    """The KPI cards' container: it names the window and filters its numbers are for."""
    return page.locator(".kpi-grid[data-since][data-until]")


def wait_for_window_days(page: Page, days: int) -> None:
    page.wait_for_function(
        """(days) => {
          const grid = document.querySelector(".kpi-grid[data-since][data-until]");
          if (!grid) return false;
          return Date.parse(grid.dataset.until) - Date.parse(grid.dataset.since) === days * 864e5;
        }""",
        arg=days,
    )


def stat(page: Page, name: str) -> float:
    return float(page.locator(f'[data-stat="{name}"]').get_attribute("data-value") or "nan")


def sign_in_with_the_demo_login(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    assert_accessible(page, "sign-in")
    screenshot(page, "sign-in")
    page.get_by_role("button", name="Use the demo login").click()
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(OVERVIEW)  # one project: straight to its overview


def assert_cards_match_the_api(page: Page, api: Api, project: str, **filters: str) -> None:
    expect(kpi_grid(page)).to_be_visible()
    shown = page.evaluate(READ_CARDS)
    values = {name: float(raw) if raw else None for name, raw in shown["values"].items()}
    assert values == api.kpis(project, shown["since"], shown["until"], **filters)


def run_the_flow(browser: Browser, server: Server) -> None:
    login = demo_login(server.base_url)
    api = Api(server.base_url, login)
    project = api.project_id()
    with watched_context(browser, server.base_url) as (context, _watch):
        page = context.new_page()
        sign_in_with_the_demo_login(page)

        # The overview: KPI cards with the values of GET …/metrics for its window.
        expect(page.locator('[data-stat="events"]')).to_be_visible()
        assert_cards_match_the_api(page, api, project)
        assert_accessible(page, "overview")
        screenshot(page, "overview")

        # Live: a batch through the API shows without a reload.
        page.evaluate("window.__notReloaded = true")
        before = stat(page, "events")
        session_id = f"browser-{uuid.uuid4().hex[:8]}"
        assert api.ingest(project, session_id, 3).status_code == 200
        expect(page.locator('[data-stat="events"]')).to_have_attribute(
            "data-value", str(int(before) + 3), timeout=LIVE_DEADLINE_MS
        )
        expect(page.locator(f'tr[data-session-id="{session_id}"]')).to_be_visible(
            timeout=LIVE_DEADLINE_MS
        )
        assert page.evaluate("window.__notReloaded") is True
        expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()

        # The window and a filter: the URL and the numbers follow, back works.
        page.get_by_role("button", name="7 d", exact=True).click()
        expect(page).to_have_url(re.compile(r"window=7d"))
        wait_for_window_days(page, 7)
        assert_cards_match_the_api(page, api, project)
        developers = page.get_by_role("combobox", name="Developer")
        expect(developers.locator("option").nth(1)).to_be_attached()  # the list has loaded
        developer = str(developers.evaluate("s => [...s.options].map(o => o.value).find(v => v)"))
        developers.select_option(developer)
        expect(page).to_have_url(re.compile(rf"developer={re.escape(developer)}"))
        expect(kpi_grid(page)).to_have_attribute("data-developer", developer)
        assert_cards_match_the_api(page, api, project, developer=developer)
        page.go_back()
        expect(page).not_to_have_url(re.compile(r"developer="))
        expect(kpi_grid(page)).to_have_attribute("data-developer", "")
        assert_cards_match_the_api(page, api, project)

        # An API key: created (secret shown once), working, revoked.
        page.get_by_role("link", name="Settings").click()
        page.get_by_role("link", name="API keys").click()
        assert_accessible(page, "settings: API keys")
        page.get_by_label("Name").fill("ci-key")
        page.get_by_role("button", name="Create key").click()
        secret = page.get_by_label("New API key secret").locator("code").inner_text().strip()
        assert secret.startswith("pl_")
        screenshot(page, "api-keys")
        assert api.ingest(project, "via-key", 1, **{"X-API-Key": secret}).status_code == 200
        page.get_by_role("button", name="Revoke ci-key").click()
        page.get_by_role("dialog").get_by_role("button", name="Revoke", exact=True).click()
        expect(page.locator("tr", has_text="ci-key")).to_contain_text("Revoked")
        assert api.ingest(project, "via-key-2", 1, **{"X-API-Key": secret}).status_code == 401

        # Sign out: back to sign-in, and the pages are closed to this browser.
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/sign-in"))
        page.goto(f"/projects/{project}")
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, env=DEMO_ON, ready_deadline_s=2 * READY_DEADLINE_S) as server:
        yield server


def test_the_flow_on_the_embedded_default(browser: Browser, demo_server: Server) -> None:
    run_the_flow(browser, demo_server)


def test_the_flow_on_postgres_and_redis_with_two_workers(
    browser: Browser, tmp_path: Path, shared_services: Services
) -> None:
    env: Mapping[str, str] = {
        **DEMO_ON,
        "DATABASE_URL": shared_services.database_url,
        "REDIS_URL": shared_services.redis_url,
        "PRODLENS_REDIS__KEY_PREFIX": shared_services.key_prefix,
    }
    with running_server(
        tmp_path, "--no-migrate", "--workers", "2", env=env, ready_deadline_s=2 * READY_DEADLINE_S
    ) as server:
        run_the_flow(browser, server)


def test_the_overview_on_a_phone_in_the_dark(browser: Browser, demo_server: Server) -> None:
    with watched_context(browser, demo_server.base_url, viewport=PHONE, color_scheme="dark") as (
        context,
        _watch,
    ):
        page = context.new_page()
        sign_in_with_the_demo_login(page)
        expect(page.locator("[data-kpi]").first).to_be_visible()
        # Nothing wider than the screen: the page scrolls down, not sideways.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        assert_accessible(page, "overview on a phone, dark")
        screenshot(page, "overview-phone-dark")
