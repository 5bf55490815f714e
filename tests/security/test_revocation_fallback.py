"""Sign-outs are the database's: they hold when the state store forgets them (a Redis
restarted empty or flushed, a fresh worker, Redis down when the sign-out happened)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import redis
from sqlalchemy.engine import make_url

from tests.conftest import HarnessFactory, Stack, harness_for, settings_for
from tests.harness import Account, Harness
from tests.tcp_proxy import TcpProxy

DEADLINE_S = 30.0


async def me(h: Harness, account: Account) -> httpx.Response:
    return await h.client.get("/api/v1/auth/me", headers=account.headers)


async def second_session(h: Harness, account: Account) -> Account:
    return await h.sign_in(Account(account.email, account.username, account.password))


async def sign_out(h: Harness, account: Account) -> None:
    response = await h.client.post("/api/v1/auth/logout", headers=account.headers)
    assert response.status_code == 204, response.text


def forget_everything(redis_url: str, key_prefix: str) -> int:
    """What FLUSHDB does to this test's keys (only ours: the Redis is shared)."""
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)


async def test_s22_sign_out_holds_after_redis_is_flushed(
    postgres_stack: Stack, tmp_path: Path
) -> None:
    assert postgres_stack.redis_url is not None
    settings = settings_for(postgres_stack, tmp_path / "var")
    async with harness_for(settings) as h:
        ada = await h.signup("ada")
        laptop = await second_session(h, ada)
        assert (await me(h, laptop)).status_code == 200  # cached as open
        await sign_out(h, laptop)
        assert (await me(h, laptop)).status_code == 401

        assert forget_everything(postgres_stack.redis_url, settings.redis.key_prefix) > 0
        refused = await me(h, laptop)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "auth.invalid_token"
        assert (await me(h, ada)).status_code == 200  # the other session is open still
        # Asked once, the database's answer is cached again.
        forgotten = forget_everything(postgres_stack.redis_url, settings.redis.key_prefix)
        assert forgotten >= 2
        assert (await me(h, laptop)).status_code == 401
        assert (await me(h, ada)).status_code == 200


async def test_s22_sign_out_holds_in_a_worker_with_an_empty_store(
    make_harness: HarnessFactory,
) -> None:
    """A new app on the same database and a store of its own (a fresh Redis prefix, or
    memory): the state a restarted Redis or a restarted single worker starts with."""
    async with make_harness() as before:
        ada = await before.signup("ada")
        laptop = await second_session(before, ada)
        await sign_out(before, laptop)
    async with make_harness() as after:
        assert (await me(after, laptop)).status_code == 401
        assert (await me(after, ada)).status_code == 200


async def wait_until_shared_again(h: Harness, account: Account) -> None:
    """Until the store has gone back from its local fallback to Redis (on a request)."""
    deadline = time.monotonic() + DEADLINE_S
    while h.app.state.state_store.degraded:
        assert time.monotonic() < deadline, "Redis never came back"
        assert (await me(h, account)).status_code == 200
        await asyncio.sleep(0.05)


async def test_s22_sign_out_while_redis_is_down_holds_once_it_is_back(
    postgres_stack: Stack, tmp_path: Path
) -> None:
    assert postgres_stack.redis_url is not None
    url = make_url(postgres_stack.redis_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 6379)
    await proxy.start()
    settings = settings_for(
        postgres_stack,
        tmp_path / "var",
        redis_url=f"redis://127.0.0.1:{proxy.port}/{url.database or 0}",
        redis={"socket_timeout": 0.5, "retry_seconds": 0.2},
    )
    try:
        async with harness_for(settings) as h:
            ada = await h.signup("ada")
            laptop = await second_session(h, ada)

            await proxy.stop()
            await sign_out(h, laptop)  # Redis never hears of it
            assert (await me(h, laptop)).status_code == 401
            assert (await me(h, ada)).status_code == 200
            assert (await h.client.get("/health/ready")).json()["status"] == "degraded"

            await proxy.start()
            await wait_until_shared_again(h, ada)
            # Redis is back, without the sign-out: the database still has it.
            assert (await me(h, laptop)).status_code == 401
            assert (await me(h, ada)).status_code == 200
    finally:
        await proxy.stop()
