"""Latency buckets kept in rollups, so percentiles need no scan of events.

A percentile is reported as the upper edge of the bucket where the cumulative
count first reaches the requested share (the last bucket reports its lower
edge). docs/metrics.md states the same definition.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

# Upper edges in milliseconds; one more open-ended bucket follows the last edge.
EDGES_MS: tuple[float, ...] = (
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10000,
    15000,
    30000,
    60000,
)
BUCKETS = len(EDGES_MS) + 1
COLUMNS = tuple(f"latency_b{i}" for i in range(BUCKETS))


def bucket_of(latency_ms: float) -> int:
    return bisect.bisect_left(EDGES_MS, latency_ms)


def percentile(counts: Sequence[int], share: float) -> float | None:
    total = sum(counts)
    if total == 0:
        return None
    needed = share * total
    running = 0
    for index, count in enumerate(counts):
        running += count
        if running >= needed:
            return EDGES_MS[index] if index < len(EDGES_MS) else EDGES_MS[-1]
    return EDGES_MS[-1]
