"""State shared between worker processes: in memory when alone, Redis when configured.

Every piece of cross-worker state (counters, lockouts, revocations, pub/sub)
goes through a `StateStore`, so both backends answer to the same tests.

TTLs here are wall-clock garbage collection only. Rules that tests must be
able to move in time (lockout expiry, cooldowns) store a timestamp from
`kit/clock.py` as the value and compare it themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

import redis.asyncio as redis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from prodlens.observability import metrics

if TYPE_CHECKING:
    from prodlens.config import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")
# What an unreachable or stalled Redis raises; anything else is a bug and propagates.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


class StateStore(Protocol):
    backend: str

    async def ping(self) -> None:
        """Return when the store answers; raise when it does not."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, *, ttl: int) -> None: ...

    async def set_if_absent(self, key: str, value: str, *, ttl: int) -> bool:
        """Set the key only if it does not exist; True when this call set it."""

    async def incr(self, key: str, *, ttl: int) -> int:
        """Add one and return the new value; the TTL starts with the first increment."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, *keys: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStateStore:
    """Process-local state: correct for a single worker, nothing to reach."""

    backend = "memory"

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}  # key -> (value, expires at, monotonic)

    def _live(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires <= time.monotonic():
            del self._values[key]
            return None
        return value

    async def ping(self) -> None:
        return None

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, *, ttl: int) -> None:
        self._values[key] = (value, time.monotonic() + ttl)

    async def set_if_absent(self, key: str, value: str, *, ttl: int) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl=ttl)
        return True

    async def incr(self, key: str, *, ttl: int) -> int:
        current = self._live(key)
        if current is None:
            await self.set(key, "1", ttl=ttl)
            return 1
        count = int(current) + 1
        self._values[key] = (str(count), self._values[key][1])
        return count

    async def exists(self, key: str) -> bool:
        return self._live(key) is not None

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)

    async def close(self) -> None:
        self._values.clear()


class RedisStateStore:
    backend = "redis"

    def __init__(self, url: str, *, key_prefix: str, socket_timeout: float) -> None:
        self.key_prefix = key_prefix
        self.socket_timeout = socket_timeout
        # The client connects lazily and reconnects by itself, so a Redis that is
        # down at start-up or restarts later needs no action from us.
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=30,
            decode_responses=True,
        )

    def _key(self, key: str) -> str:
        return self.key_prefix + key

    async def ping(self) -> None:
        async with asyncio.timeout(self.socket_timeout * 2):
            await self.client.ping()

    async def get(self, key: str) -> str | None:
        value = await self.client.get(self._key(key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str, *, ttl: int) -> None:
        await self.client.set(self._key(key), value, ex=ttl)

    async def set_if_absent(self, key: str, value: str, *, ttl: int) -> bool:
        return bool(await self.client.set(self._key(key), value, ex=ttl, nx=True))

    async def incr(self, key: str, *, ttl: int) -> int:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(self._key(key))
            pipe.expire(self._key(key), ttl, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def exists(self, key: str) -> bool:
        return bool(await self.client.exists(self._key(key)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self.client.delete(*(self._key(key) for key in keys))

    async def close(self) -> None:
        await self.client.aclose()


class Circuit:
    """Remembers that a shared backend is down, so callers skip it for a while.

    After `retry_seconds` the next call tries the backend again; success closes
    the circuit. Each outage is logged once, and counted in metrics.
    """

    def __init__(self, name: str, *, retry_seconds: float) -> None:
        self.name = name
        self.retry_seconds = retry_seconds
        self._retry_at = 0.0
        self._open = False

    @property
    def is_open(self) -> bool:
        """True while the backend is considered down (local fallback in use)."""
        return self._open

    def should_try(self) -> bool:
        return not self._open or time.monotonic() >= self._retry_at

    def failed(self, error: BaseException) -> None:
        metrics.STATE_BACKEND_ERRORS.labels(self.name).inc()
        self._retry_at = time.monotonic() + self.retry_seconds
        if not self._open:
            self._open = True
            metrics.STATE_FALLBACK_ACTIVE.labels(self.name).set(1)
            log.warning(
                "shared_state_unreachable",
                backend=self.name,
                error=type(error).__name__,
                fallback="local memory",
                retry_seconds=self.retry_seconds,
            )

    def succeeded(self) -> None:
        if self._open:
            self._open = False
            metrics.STATE_FALLBACK_ACTIVE.labels(self.name).set(0)
            log.info("shared_state_recovered", backend=self.name)

    async def call(
        self,
        primary: Callable[[], Awaitable[T]],
        fallback: Callable[[], Awaitable[T]],
        errors: tuple[type[BaseException], ...] = REDIS_DOWN,
    ) -> T:
        if self.should_try():
            try:
                result = await primary()
            except errors as exc:
                self.failed(exc)
            else:
                self.succeeded()
                return result
        return await fallback()


class ResilientStateStore:
    """Redis, or local memory while Redis is unreachable; back to Redis by itself.

    In the fallback each worker has its own state (limits and lockouts per worker,
    revocations seen by the revoking worker only) until Redis answers again.
    """

    backend = "redis"

    def __init__(self, primary: RedisStateStore, *, retry_seconds: float) -> None:
        self.primary = primary
        self.fallback = MemoryStateStore()
        self.circuit = Circuit("redis", retry_seconds=retry_seconds)

    @property
    def degraded(self) -> bool:
        return self.circuit.is_open

    async def ping(self) -> None:
        await self.primary.ping()

    async def get(self, key: str) -> str | None:
        return await self.circuit.call(
            lambda: self.primary.get(key), lambda: self.fallback.get(key)
        )

    async def set(self, key: str, value: str, *, ttl: int) -> None:
        await self.circuit.call(
            lambda: self.primary.set(key, value, ttl=ttl),
            lambda: self.fallback.set(key, value, ttl=ttl),
        )

    async def set_if_absent(self, key: str, value: str, *, ttl: int) -> bool:
        return await self.circuit.call(
            lambda: self.primary.set_if_absent(key, value, ttl=ttl),
            lambda: self.fallback.set_if_absent(key, value, ttl=ttl),
        )

    async def incr(self, key: str, *, ttl: int) -> int:
        return await self.circuit.call(
            lambda: self.primary.incr(key, ttl=ttl), lambda: self.fallback.incr(key, ttl=ttl)
        )

    async def exists(self, key: str) -> bool:
        return await self.circuit.call(
            lambda: self.primary.exists(key), lambda: self.fallback.exists(key)
        )

    async def delete(self, *keys: str) -> None:
        await self.circuit.call(
            lambda: self.primary.delete(*keys), lambda: self.fallback.delete(*keys)
        )

    async def close(self) -> None:
        await self.primary.close()


def create_state_store(
    redis_url: str | None, *, key_prefix: str, socket_timeout: float, retry_seconds: float = 5.0
) -> StateStore:
    if redis_url:
        primary = RedisStateStore(redis_url, key_prefix=key_prefix, socket_timeout=socket_timeout)
        return ResilientStateStore(primary, retry_seconds=retry_seconds)
    return MemoryStateStore()


def state_store_from_settings(settings: Settings) -> StateStore:
    """The store `REDIS_URL` and the `redis` settings group describe."""
    return create_state_store(
        settings.redis_url,
        key_prefix=settings.redis.key_prefix,
        socket_timeout=settings.redis.socket_timeout,
        retry_seconds=settings.redis.retry_seconds,
    )
