"""Rate limiting with the `limits` library: Redis when configured, memory otherwise.

Every decision is kept on the request, and the one closest to exhaustion is
reported in `X-RateLimit-*` headers. If Redis becomes unreachable the limiter
counts in local memory (per worker) until Redis answers again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from prodlens.config import Settings
from prodlens.kit.state import REDIS_DOWN, Circuit
from prodlens.ratelimit.verified_keys import VerifiedKeys

STATE_KEY = "rate_limit"
_Use = Callable[[SlidingWindowCounterRateLimiter], Awaitable["Decision"]]


@dataclass(frozen=True)
class Decision:
    policy: str
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds

    def headers(self, *, now: float) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(max(int(self.reset_at - now), 0)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(int(self.reset_at - now), 1))
        return headers


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        config = settings.rate_limits
        self.enabled = config.enabled
        self.policies: dict[str, RateLimitItem] = {
            name: parse(getattr(config, name))
            for name in (
                "general",
                "login_ip",
                "login_identifier",
                "password_reset",
                "registration",
                "refresh",
                "ingest",
            )
        }
        self._memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if settings.redis_url:
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=settings.redis.key_prefix + "limits",
                wrap_exceptions=True,
                socket_timeout=settings.redis.socket_timeout,
                socket_connect_timeout=settings.redis.socket_timeout,
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)
        self.circuit = Circuit("redis-limits", retry_seconds=settings.redis.retry_seconds)
        # Which presented API keys are real, as the routes found (see the middleware).
        self.verified_keys = VerifiedKeys()

    @property
    def backend(self) -> str:
        return "redis" if self._shared is not None else "memory"

    async def hit(
        self, policy: str, key: str, *, item: RateLimitItem | None = None, cost: int = 1
    ) -> Decision:
        rule = item or self.policies[policy]

        async def count(strategy: SlidingWindowCounterRateLimiter) -> Decision:
            allowed = await strategy.hit(rule, policy, key, cost=cost)
            stats = await strategy.get_window_stats(rule, policy, key)
            return Decision(policy, allowed, rule.amount, stats.remaining, stats.reset_time)

        return await self._counted(count)

    async def peek(self, policy: str, key: str, *, item: RateLimitItem) -> Decision:
        async def look(strategy: SlidingWindowCounterRateLimiter) -> Decision:
            stats = await strategy.get_window_stats(item, policy, key)
            return Decision(policy, True, item.amount, stats.remaining, stats.reset_time)

        return await self._counted(look)

    async def _counted(self, use: _Use) -> Decision:
        shared = self._shared
        if shared is None:
            return await use(self._memory)
        return await self.circuit.call(
            lambda: use(shared), lambda: use(self._memory), errors=(StorageError, *REDIS_DOWN)
        )
