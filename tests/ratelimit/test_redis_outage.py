"""Redis goes away mid-traffic: no 5xx, readiness says degraded; it comes back by itself."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from tests.conftest import SettingsFactory, Stack, harness_for
from tests.tcp_proxy import TcpProxy


def fallback_active(metrics_text: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if (
                sample.name == "prodlens_state_fallback_active"
                and sample.labels["backend"] == "redis"
            ):
                return sample.value
    return 0.0


async def test_redis_outage_and_recovery(
    postgres_stack: Stack, make_sqlite_settings: SettingsFactory
) -> None:
    assert postgres_stack.redis_url is not None
    url = make_url(postgres_stack.redis_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 6379)
    await proxy.start()
    proxied = f"redis://127.0.0.1:{proxy.port}/{url.database or 0}"
    settings = make_sqlite_settings(
        redis_url=proxied, redis={"socket_timeout": 0.5, "retry_seconds": 0.2}
    )
    async with harness_for(settings) as h:
        ada = await h.signup("ada")
        assert (await h.client.get("/health/ready")).json()["status"] == "ready"

        await proxy.stop()
        for _ in range(5):  # revocation checks, limits, plan budget: all on local memory now
            assert (await h.client.get("/api/v1/auth/me", headers=ada.headers)).status_code == 200
        assert (await h.login("ada")).status_code == 200
        assert (await h.login("nobody", "wrong")).status_code == 401
        ready = await h.client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert fallback_active((await h.client.get("/metrics")).text) == 1

        await proxy.start()  # same port again
        await asyncio.sleep(0.3)  # past retry_seconds
        assert (await h.client.get("/api/v1/auth/me", headers=ada.headers)).status_code == 200
        assert (await h.client.get("/health/ready")).json()["status"] == "ready"
        assert fallback_active((await h.client.get("/metrics")).text) == 0
    await proxy.stop()
