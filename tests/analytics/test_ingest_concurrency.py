"""Concurrent ingest batches all succeed (SQLite writers queue instead of failing)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.analytics.helpers import analytics_project, event
from tests.harness import Harness


async def test_concurrent_batches_are_all_stored(harness: Harness) -> None:
    project = await analytics_project(harness)
    start = harness.clock.now() - timedelta(hours=2)

    async def send(worker: int) -> list[int]:
        codes = []
        for batch in range(3):
            events = [
                event(worker * 10_000 + batch * 1_000 + i, start + timedelta(seconds=i))
                for i in range(200)
            ]
            response = await harness.client.post(
                "/api/v1/ingest/events", json=events, headers={"X-API-Key": project.ingest_key}
            )
            codes.append(response.status_code)
        return codes

    results = await asyncio.gather(*(send(worker) for worker in range(4)))
    assert results == [[200, 200, 200]] * 4
    assert await harness.sql("SELECT count(*) FROM events") == [(4 * 3 * 200,)]
