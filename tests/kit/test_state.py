"""The same behaviour from the memory and the Redis state store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from prodlens.kit.state import MemoryStateStore, RedisStateStore, StateStore
from tests.conftest import TEST_REDIS_URL, require_service


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    url = require_service("PRODLENS_TEST_REDIS_URL", TEST_REDIS_URL)
    redis_store = RedisStateStore(url, key_prefix=f"test:{uuid.uuid4().hex}:", socket_timeout=1)
    yield redis_store
    await redis_store.close()


async def test_set_get_delete(store: StateStore) -> None:
    assert await store.get("k") is None
    await store.set("k", "v", ttl=60)
    assert await store.get("k") == "v"
    assert await store.exists("k")
    await store.delete("k", "never-set")
    assert not await store.exists("k")


async def test_set_if_absent(store: StateStore) -> None:
    assert await store.set_if_absent("once", "first", ttl=60)
    assert not await store.set_if_absent("once", "second", ttl=60)
    assert await store.get("once") == "first"


async def test_incr_counts_from_one(store: StateStore) -> None:
    assert [await store.incr("n", ttl=60) for _ in range(3)] == [1, 2, 3]


async def test_values_expire(store: StateStore) -> None:
    await store.set("short", "v", ttl=1)
    assert await store.incr("counter", ttl=1) == 1
    await asyncio.sleep(1.2)
    assert await store.get("short") is None
    assert await store.incr("counter", ttl=1) == 1


async def test_ping(store: StateStore) -> None:
    await store.ping()
