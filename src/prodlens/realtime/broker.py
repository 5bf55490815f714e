"""Fan-out between workers: in memory when alone, Redis pub/sub when `REDIS_URL` is set.

A broker numbers the messages of each channel (`seq`, from 1) and hands every
message, with its number, to the `deliver` callback of every worker. On Redis the
number and the publication happen in one script, so every worker sees a channel's
messages in `seq` order. While Redis is unreachable a worker delivers what it
publishes to its own sockets only, numbered locally, and tries Redis again after
`retry_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as redis
import structlog

from prodlens.kit.state import REDIS_DOWN, Circuit

log = structlog.get_logger(__name__)

# (channel, seq, envelope); the envelope is what `publish` was given.
Deliver = Callable[[str, int, dict[str, Any]], None]

# A channel's counter outlives any socket; a channel silent this long starts again at 1.
_SEQ_TTL_SECONDS = 7 * 24 * 3600

# INCR and PUBLISH in one atomic step: publication order is sequence order.
_PUBLISH_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], seq .. ' ' .. ARGV[1])
return seq
"""


class Broker(Protocol):
    backend: str

    async def start(self, deliver: Deliver) -> None:
        """Begin handing every message of every channel to `deliver`."""

    async def publish(self, channel: str, envelope: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


class MemoryBroker:
    """One process: publishing is delivering."""

    backend = "memory"

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._seq: defaultdict[str, int] = defaultdict(int)

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, channel: str, envelope: dict[str, Any]) -> None:
        self._seq[channel] += 1
        if self._deliver is not None:
            self._deliver(channel, self._seq[channel], envelope)

    async def close(self) -> None:
        self._deliver = None


class RedisBroker:
    backend = "redis"

    def __init__(
        self, url: str, *, key_prefix: str, socket_timeout: float, retry_seconds: float
    ) -> None:
        self._channel_prefix = f"{key_prefix}rt:ch:"
        self._seq_prefix = f"{key_prefix}rt:seq:"
        self._retry_seconds = retry_seconds
        # Publishing must not wait long on a stalled Redis; the subscriber blocks on reads.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            decode_responses=True,
        )
        self._listener = redis.Redis.from_url(
            url, socket_connect_timeout=socket_timeout, decode_responses=True
        )
        self._script = self._client.register_script(_PUBLISH_SCRIPT)
        self._circuit = Circuit("redis-pubsub", retry_seconds=retry_seconds)
        self._local = MemoryBroker()
        self._task: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self._subscribed = asyncio.Event()
        self._start_timeout = socket_timeout * 2

    async def start(self, deliver: Deliver) -> None:
        """Returns once the subscription is live (so nothing published after start-up is
        missed), or after a short wait when Redis is down: the listener keeps trying."""
        self._deliver = deliver
        await self._local.start(deliver)
        self._task = asyncio.create_task(self._listen(), name="realtime-redis-listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._start_timeout):
                await self._subscribed.wait()

    async def publish(self, channel: str, envelope: dict[str, Any]) -> None:
        data = json.dumps(envelope, separators=(",", ":"), default=str)

        async def remote() -> None:
            await self._script(
                keys=[self._seq_prefix + channel, self._channel_prefix + channel],
                args=[data, _SEQ_TTL_SECONDS],
            )

        await self._circuit.call(remote, lambda: self._local.publish(channel, envelope))

    async def _listen(self) -> None:
        while True:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.psubscribe(self._channel_prefix + "*")
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message.get("type") == "psubscribe":
                        # Redis confirmed: from now on every publication reaches us.
                        self._subscribed.set()
                        log.info("realtime_subscribed", backend="redis")
                    else:
                        self._handle(message)
                    await asyncio.sleep(0)  # buffered messages: let the writers drain
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as exc:
                log.warning(
                    "realtime_redis_unreachable",
                    error=type(exc).__name__,
                    retry_seconds=self._retry_seconds,
                )
                await asyncio.sleep(self._retry_seconds)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("type") != "pmessage" or self._deliver is None:
            return
        channel = str(message["channel"]).removeprefix(self._channel_prefix)
        seq, _, data = str(message["data"]).partition(" ")
        try:
            envelope = json.loads(data)
            number = int(seq)
        except ValueError:
            log.warning("realtime_message_unreadable", channel=channel)
            return
        self._deliver(channel, number, envelope)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()
        await self._listener.aclose()


def create_broker(
    redis_url: str | None, *, key_prefix: str, socket_timeout: float, retry_seconds: float
) -> Broker:
    if redis_url:
        return RedisBroker(
            redis_url,
            key_prefix=key_prefix,
            socket_timeout=socket_timeout,
            retry_seconds=retry_seconds,
        )
    return MemoryBroker()


def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """What travels through the broker: the message type, its data, when it was sent."""
    return {"kind": kind, "data": data, "sent": time.time()}
