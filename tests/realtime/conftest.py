"""The app served by uvicorn on a real port in the test's event loop, so tests talk to
`/api/v1/ws` with the `websockets` client over real sockets (and still reach the app's
state and clock)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from prodlens.app import create_app
from prodlens.config import Settings
from prodlens.kit.clock import ManualClock
from tests.conftest import SettingsFactory
from tests.e2e.server import free_port
from tests.harness import Harness

# Every wait on the feed ends on a message; this only bounds a broken server.
RECEIVE_DEADLINE_S = 30.0


@dataclass
class Live(Harness):
    ws_url: str = ""

    def connect(self, token: str | None = None, **options: Any) -> connect:
        headers = dict(options.pop("additional_headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return connect(self.ws_url, additional_headers=headers, open_timeout=30, **options)


@asynccontextmanager
async def live_for(settings: Settings) -> AsyncIterator[Live]:
    clock = ManualClock()
    app = create_app(settings, clock=clock)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # The test runner keeps its own signal handlers.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            yield Live(
                app=app,
                client=client,
                clock=clock,
                settings=settings,
                ws_url=f"ws://127.0.0.1:{port}/api/v1/ws",
            )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


LiveFactory = Callable[..., AbstractAsyncContextManager[Live]]


@pytest.fixture
def make_live(make_settings: SettingsFactory) -> LiveFactory:
    """`async with make_live(**settings_overrides) as live:` on this test's backend."""
    return lambda **overrides: live_for(make_settings(**overrides))


@pytest.fixture
async def live(make_settings: SettingsFactory) -> AsyncIterator[Live]:
    async with live_for(make_settings()) as running:
        yield running


async def receive(ws: ClientConnection, *types: str) -> dict[str, Any]:
    """The next message of one of these types (others, such as pings, are skipped)."""
    async with asyncio.timeout(RECEIVE_DEADLINE_S):
        while True:
            message = json.loads(await ws.recv())
            if not types or message["type"] in types:
                return dict(message)


async def send(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))


async def closed_with(ws: ClientConnection) -> tuple[int | None, dict[str, Any] | None]:
    """Read to the end of the socket: its close code, and the `bye` message if one came."""
    bye = None
    async with asyncio.timeout(RECEIVE_DEADLINE_S):
        try:
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "bye":
                    bye = message
        except ConnectionClosed:
            pass
    return ws.close_code, bye


async def subscribed(ws: ClientConnection, project: str) -> dict[str, Any]:
    await receive(ws, "welcome")
    await send(ws, type="subscribe", project=project)
    answer = await receive(ws, "subscribed", "error")
    assert answer["type"] == "subscribed", answer
    return answer
