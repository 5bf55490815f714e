"""Typed dependencies on what `create_app` and its lifespan keep in `app.state`.

`app.state` is untyped: each alias reads one attribute and names its type, so a
route declares what it uses and mypy checks how it uses it. Domains define
theirs the same way (`AuthDep`, `RateLimiterDep`, `MaintenanceSwitchDep`).
The functions are `async` so FastAPI calls them inline, not in a thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from prodlens.config import Settings
from prodlens.http.client_ip import client_ip
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.db import Database
from prodlens.kit.state import StateStore


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _state_store(request: Request) -> StateStore:
    store: StateStore = request.app.state.state_store
    return store


async def _client(request: Request) -> ClientInfo:
    return ClientInfo(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


SettingsDep = Annotated[Settings, Depends(_settings)]
ClockDep = Annotated[Clock, Depends(_clock)]
DatabaseDep = Annotated[Database, Depends(_database)]
StateStoreDep = Annotated[StateStore, Depends(_state_store)]
# The caller's address (through trusted proxies only) and user agent.
ClientDep = Annotated[ClientInfo, Depends(_client)]
