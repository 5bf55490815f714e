"""Latency and time-to-first-token percentiles from mergeable log-spaced bins (DDSketch).

With a relative accuracy `a` of 1 % and `gamma = (1 + a) / (1 - a)`, a value of at
least 1 ms is counted in bin `k = ceil(log(value) / log(gamma))`, which stands for
`2 * gamma**k / (1 + gamma)`: within `a` of every value the bin holds. Bins are
counted per (project, hour or day, developer, model, kind) in the sketch tables, and
counts simply add up, so the percentiles of any window, filter or group come from
summed bin counts: O(bins), never O(events).

The mapping is DataDog's (`ddsketch.mapping.LogarithmicMapping`): the same bins as
every other DDSketch with this accuracy. Stored bins depend on these constants:
changing one needs a migration that rebuilds the sketch tables from events.
docs/metrics.md states the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
MIN_MS = 1.0  # below: the low bin, reported as 0 ms
MAX_MS = 86_400_000.0  # the largest latency ingest accepts (a day); above: the top bin
KINDS = ("latency", "ttft")  # what the `kind` column of the sketch tables holds
PERCENTILES = (50, 90, 95, 99)  # the ones KPIs, raw metrics and time series report

_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
LOW_BIN = _MAPPING.key(MIN_MS) - 1
TOP_BIN = _MAPPING.key(MAX_MS)


def bin_of(value_ms: float) -> int:
    if value_ms < MIN_MS:
        return LOW_BIN
    return min(_MAPPING.key(value_ms), TOP_BIN)


def bin_value(key: int) -> float:
    return 0.0 if key <= LOW_BIN else float(_MAPPING.value(key))


def quantile(counts: Mapping[int, int], share: float) -> float | None:
    """DDSketch's rule: the value of the bin holding rank `share * (n - 1)` (0-based,
    rounded down), so within 1 % of the exact order statistic at that rank; None
    without values."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = share * (total - 1)
    running = 0
    for key in sorted(counts):
        running += counts[key]
        if running > rank:
            return bin_value(key)
    return bin_value(max(counts))  # not reached: running ends at total > rank
