"""Fixtures of the browser tests: one Chromium per test process, servers with the demo."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.harness import LAUNCH_ARGS, chromium_or_skip


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()
