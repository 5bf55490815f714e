"""The dashboard in Debian's Chromium: what the overview costs to download and how soon
its KPI cards are on screen, on the demo data.

What it measures
    A `prodlens serve --workers 1` (SQLite, the generated demo, pinned to core 0) and
    headless Chromium (Playwright, /usr/bin/chromium; not pinned), 1366x768.

    * transfer  the bytes on the wire (after gzip) of every script and stylesheet the
                overview loads, from a cold cache: the budget is 250 KB.
    * render    time from the start of navigation (performance.timeOrigin) to the moment
                the first KPI card is in the document with its value (a MutationObserver
                installed before any page script, reading performance.now()), for a
                signed-in user opening the overview URL: cold (empty cache, a new
                browser context each time) and warm (assets cached: a reload in the same
                context). The budget is 1 s. Median and max over RUNS.
    * requests  every request the page made; any to another origin is an error.

    Rate limits are off for the benchmark (PRODLENS_RATE_LIMITS__ENABLED=false): its
    32 page loads a minute would meet the general limit of 100 requests a minute.

    Run: `.venv/bin/python bench/bench_dashboard.py` (RUNS=15 by default; BENCH_FULL=1: 50).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
from _common import (
    HOST,
    BenchError,
    ServerSpec,
    free_port,
    machine_lines,
    prodlens_env,
    prodlens_serve_argv,
    running,
)
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    StorageState,
    sync_playwright,
)

RUNS = 50 if os.environ.get("BENCH_FULL") else 15
BUDGET_TRANSFER_KB = 250
BUDGET_RENDER_MS = 1000
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Runs before any script of the page: the time the first KPI card with a value appears.
FIRST_CARD = """
new MutationObserver((_, observer) => {
  if (document.querySelector("[data-kpi]")) {
    window.__firstCardMs = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def sign_in(browser: Browser, base: str, login: dict[str, str]) -> StorageState:
    """A signed-in browser state (cookies), through the API's cookie login."""
    context = browser.new_context(base_url=base)
    answer = context.request.post(
        "/api/v1/auth/login",
        data={"username": login["username"], "password": login["password"], "use_cookies": True},
        headers={"Origin": base},
    )
    if not answer.ok:
        raise BenchError(f"cookie login failed: {answer.status} {answer.text()}")
    state = context.storage_state()
    context.close()
    return state


def open_overview(page: Page, url: str) -> float:
    page.goto(url)
    page.wait_for_selector("[data-kpi]", timeout=60_000)
    return float(page.evaluate("window.__firstCardMs"))


def measure(browser: Browser, base: str, overview: str, state: StorageState) -> None:
    cold: list[float] = []
    warm: list[float] = []
    transfer: dict[str, int] = {}
    foreign: list[str] = []

    def record(request: Request) -> None:
        if not request.url.startswith(base):
            foreign.append(request.url)

    for run in range(RUNS + 1):  # the first is a warm-up of the server and the browser
        context: BrowserContext = browser.new_context(
            base_url=base, viewport={"width": 1366, "height": 768}, storage_state=state
        )
        context.add_init_script(FIRST_CARD)
        page = context.new_page()
        page.on("request", record)
        sizes: dict[str, int] = {}

        def finished(request: Request, sizes: dict[str, int] = sizes) -> None:
            if request.resource_type in {"script", "stylesheet"}:
                sizes[request.url] = request.sizes()["responseBodySize"]

        page.on("requestfinished", finished)
        first = open_overview(page, overview)
        page.remove_listener("requestfinished", finished)  # the reload is served from cache
        page.reload()
        page.wait_for_selector("[data-kpi]", timeout=60_000)
        again = float(page.evaluate("window.__firstCardMs"))
        if run > 0:
            cold.append(first)
            warm.append(again)
            transfer = dict(sizes)
        context.close()

    total_kb = sum(transfer.values()) / 1000
    print(f"transfer  JS+CSS of the overview, gzipped: {total_kb:.1f} KB in {len(transfer)} files")
    for url, size in sorted(transfer.items(), key=lambda item: -item[1]):
        print(f"          {size / 1000:7.1f} KB  {url.removeprefix(base)}")
    print(
        f"render    first KPI card, cold cache: median {statistics.median(cold):.0f} ms, "
        f"max {max(cold):.0f} ms (n={len(cold)})"
    )
    print(
        f"          warm cache (reload):        median {statistics.median(warm):.0f} ms, "
        f"max {max(warm):.0f} ms (n={len(warm)})"
    )
    print(f"requests  to other origins: {len(foreign)}")
    verdicts = [
        (
            "transfer",
            total_kb <= BUDGET_TRANSFER_KB,
            f"{total_kb:.1f} KB ≤ {BUDGET_TRANSFER_KB} KB",
        ),
        (
            "render",
            statistics.median(cold) <= BUDGET_RENDER_MS,
            f"median cold {statistics.median(cold):.0f} ms ≤ {BUDGET_RENDER_MS} ms",
        ),
        ("origin", not foreign, "no request to another origin"),
    ]
    for name, ok, text in verdicts:
        print(f"budget    {name:9} {'ok  ' if ok else 'OVER'} {text}")
    if not all(ok for _, ok, _ in verdicts):
        raise BenchError("a budget is exceeded")


def main() -> None:
    if not Path(CHROMIUM).exists():
        sys.exit("bench_dashboard: Debian's chromium is needed (apt-get install chromium).")
    for line in machine_lines():
        print(line)
    print(f"runs     {RUNS} (+1 warm-up), viewport 1366x768, one worker on SQLite with the demo")
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        env = prodlens_env(workdir, "WARNING")
        env["PRODLENS_DEMO_ON_EMPTY"] = "true"
        # 16 runs of two loads of ~20 requests each would meet the 100/minute limit.
        env["PRODLENS_RATE_LIMITS__ENABLED"] = "false"
        spec = ServerSpec("prodlens", prodlens_serve_argv(port), env, workdir, workdir / "log")
        with running(spec, port):
            base = f"http://{HOST}:{port}"
            login = httpx.get(f"{base}/api/v1/demo/login", timeout=60).raise_for_status().json()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                try:
                    state = sign_in(browser, base, login)
                    api = httpx.Client(base_url=base, timeout=60)
                    token = api.post(
                        "/api/v1/auth/login",
                        json={"username": login["username"], "password": login["password"]},
                    ).json()["access_token"]
                    projects = api.get(
                        "/api/v1/projects", headers={"Authorization": f"Bearer {token}"}
                    ).json()
                    overview = f"{base}/projects/{projects['items'][0]['id']}"
                    measure(browser, base, overview, state)
                finally:
                    browser.close()


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"bench_dashboard: {error}")
