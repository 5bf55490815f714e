"""Driving the dashboard in Debian's Chromium with Playwright.

Nothing here downloads a browser: Playwright launches `/usr/bin/chromium` (CI installs
it with apt-get). Every page a test opens is watched: a request to any origin other
than the server's own fails the test (and is aborted, so nothing leaves the machine),
as does a Content-Security-Policy violation or an uncaught script error. Waits are
Playwright's own (for an element, a URL, an attribute) under generous deadlines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    ViewportSize,
    WebSocket,
)

from tests.conftest import REQUIRE_SERVICES

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
DEADLINE_MS = 30_000  # for an element to appear on a loaded machine
SCREENSHOTS = os.environ.get("PRODLENS_SCREENSHOTS")  # a folder: docs screenshots go there
SERIOUS = {"serious", "critical"}


def chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if REQUIRE_SERVICES:
        pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium (.ci/run)")
    pytest.skip("Debian's chromium is not installed: apt-get install chromium")


@dataclass
class Watch:
    """What a page did that it must not: other origins, CSP violations, script errors."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith((self.origin + "/", "data:", "blob:")) or url == self.origin:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content-Security-Policy" in message.text:
            self.errors.append(message.text)

    def page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")

    def check(self) -> None:
        assert not self.foreign, f"requests to other origins: {self.foreign}"
        assert not self.errors, f"errors in the page: {self.errors}"


@contextmanager
def watched_context(
    browser: Browser, base_url: str, **options: Any
) -> Iterator[tuple[BrowserContext, Watch]]:
    context = browser.new_context(base_url=base_url, **{"viewport": LAPTOP, **options})
    context.set_default_timeout(DEADLINE_MS)
    watch = Watch(base_url)
    context.route("**/*", watch.route)
    context.on("console", watch.console)
    context.on("weberror", lambda error: watch.page_error(error.error))
    context.on("page", lambda page: watch_sockets(page, watch))
    try:
        yield context, watch
    finally:
        context.close()
    watch.check()


def watch_sockets(page: Page, watch: Watch) -> None:
    """WebSockets do not pass through `route`: check their origin when they open."""
    own = watch.origin.replace("http://", "ws://", 1)

    def opened(socket: WebSocket) -> None:
        if not socket.url.startswith(own + "/"):
            watch.foreign.append(socket.url)

    page.on("websocket", opened)


def assert_accessible(page: Page, name: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    results = Axe().run(page)
    violations = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]
    assert not violations, f"{name}: {violations}"


def screenshot(page: Page, name: str) -> None:
    """For docs/dashboard.md: only when PRODLENS_SCREENSHOTS names a folder."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


@dataclass(frozen=True)
class Login:
    username: str
    password: str


def demo_login(base_url: str) -> Login:
    """The demo login the sign-in page shows (development profile)."""
    answer = httpx.get(f"{base_url}/api/v1/demo/login", timeout=60).raise_for_status().json()
    return Login(answer["username"], answer["password"])
