"""Fixtures of the browser tests: Debian's Chromium, launched through Playwright."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.harness import LAUNCH_ARGS, chromium_or_skip


# One browser per test: Playwright's sync API runs an event loop in this thread while
# it is started, and the asyncio tests that xdist schedules next on the same worker
# need the thread free of it.
@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()
