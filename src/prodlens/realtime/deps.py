"""Dependency aliases: the app's realtime runtime and its publisher."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from prodlens.realtime.runtime import Realtime
from prodlens.realtime.service import Publisher


async def _realtime(connection: HTTPConnection) -> Realtime:
    realtime: Realtime = connection.app.state.realtime
    return realtime


async def _publisher(connection: HTTPConnection) -> Publisher:
    realtime: Realtime = connection.app.state.realtime
    return realtime.publisher


RealtimeDep = Annotated[Realtime, Depends(_realtime)]
# What services take to announce changes on the live feed after their commit.
PublisherDep = Annotated[Publisher, Depends(_publisher)]
