"""`/api/v1/ws`: the live feed (protocol in docs/realtime.md)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from prodlens.realtime.conversation import converse
from prodlens.realtime.deps import RealtimeDep

router = APIRouter(prefix="/api/v1")


@router.websocket("/ws")
async def live_feed(websocket: WebSocket, realtime: RealtimeDep) -> None:
    await converse(websocket, realtime)
