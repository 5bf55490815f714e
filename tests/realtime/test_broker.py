"""The broker's promise, on memory and on Redis: every worker gets every message of a
channel, numbered from 1 without gaps, in publication order."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from prodlens.realtime.broker import Broker, create_broker, envelope
from tests.conftest import Stack

Received = list[tuple[str, int, dict[str, Any]]]


def new_broker(redis_url: str | None, prefix: str) -> Broker:
    return create_broker(redis_url, key_prefix=prefix, socket_timeout=1.0, retry_seconds=0.2)


async def started(broker: Broker) -> tuple[Broker, Received, asyncio.Event]:
    received: Received = []
    arrived = asyncio.Event()

    def deliver(channel: str, seq: int, message: dict[str, Any]) -> None:
        received.append((channel, seq, message))
        arrived.set()

    await broker.start(deliver)
    return broker, received, arrived


async def until(condition: Any, arrived: asyncio.Event) -> None:
    async with asyncio.timeout(30):
        while not condition():
            arrived.clear()
            await arrived.wait()


async def test_every_worker_gets_every_message_in_order(stack: Stack) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    workers = 2 if stack.redis_url else 1  # memory: one process is the whole world
    brokers = [await started(new_broker(stack.redis_url, prefix)) for _ in range(workers)]
    try:
        for number in range(50):
            publisher = brokers[number % workers][0]
            await publisher.publish("project:p1", envelope("events", {"n": number}))
        for _, received, arrived in brokers:
            await until(lambda r=received: sum(i[0] == "project:p1" for i in r) == 50, arrived)
            channel = [item for item in received if item[0] == "project:p1"]
            assert [seq for _, seq, _ in channel] == list(range(1, 51))
            assert [message["data"]["n"] for _, _, message in channel] == list(range(50))
            assert all(message["kind"] == "events" for _, _, message in channel)
    finally:
        for broker, _, _ in brokers:
            await broker.close()


async def test_channels_are_numbered_separately(stack: Stack) -> None:
    broker, received, arrived = await started(
        new_broker(stack.redis_url, f"test:{uuid.uuid4().hex}:")
    )
    try:
        for channel in ("project:a", "project:b", "project:a"):
            await broker.publish(channel, envelope("kpis", {}))
        await until(lambda: len(received) == 3, arrived)
        assert [(channel, seq) for channel, seq, _ in received] == [
            ("project:a", 1),
            ("project:b", 1),
            ("project:a", 2),
        ]
    finally:
        await broker.close()


async def test_unreachable_redis_still_delivers_locally() -> None:
    # Nothing listens on this port: publishing falls back to this worker's own sockets.
    broker, received, arrived = await started(
        new_broker("redis://127.0.0.1:9/0", f"test:{uuid.uuid4().hex}:")
    )
    try:
        await broker.publish("project:p", envelope("events", {"n": 1}))
        await until(lambda: bool(received), arrived)
        assert received[0][:2] == ("project:p", 1)
    finally:
        await broker.close()
