"""What one stored event adds to the rollups and to the latency sketches.

Written once: ingest folds these into the rollup and sketch tables
(`ingest/store.py`), and a KPI window that starts or ends inside an hour folds that
hour's events the same way (`kpis/usage.py`), so the two paths cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prodlens.analytics import sketches
from prodlens.analytics.models import ROLLUP_COUNTERS

# An event by column name: the normalized dict at ingest, a RowMapping of `events` later.
EventRow = Mapping[Any, Any]

# The event columns read below.
EVENT_FIELDS = (
    "started_at",
    "developer_id",
    "response_model",
    "status",
    "accepted",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "total_tokens",
    "cost_usd",
    "lines_suggested",
    "lines_accepted",
    "latency_ms",
    "ttft_ms",
)
_TOKENS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "total_tokens",
)


def period_start(started_at: datetime, unit: str) -> datetime:
    """The hour (`unit` "hour") or UTC day ("day") holding `started_at`."""
    hour = started_at.replace(minute=0, second=0, microsecond=0)
    return hour if unit == "hour" else hour.replace(hour=0)


def group_of(row: EventRow) -> tuple[str, str]:
    """(developer, model) of the rollup row the event goes to; "" when unknown."""
    return row["developer_id"] or "", row["response_model"] or ""


def rollup_counts(row: EventRow) -> dict[str, Any]:
    counts: dict[str, Any] = dict.fromkeys(ROLLUP_COUNTERS, 0)
    if row["status"] == "refused":
        # Turned away before any model call (a proxy's unknown model or wrong key): not
        # a call, not an error of one; counted apart.
        counts["refused"] = 1
        return counts
    counts["events"] = 1
    counts["errors"] = int(row["status"] == "error")
    counts["accepted"] = int(row["accepted"] is True)
    counts["rejected"] = int(row["accepted"] is False)
    for name in _TOKENS:
        counts[name] = row[name]
    counts["cost_usd"] = float(row["cost_usd"] or 0)
    counts["lines_suggested"] = row["lines_suggested"] or 0
    counts["lines_accepted"] = row["lines_accepted"] or 0
    if row["latency_ms"] is not None:
        counts["latency_count"] = 1
        counts["latency_ms_sum"] = row["latency_ms"]
    return counts


def sketch_bins(row: EventRow) -> list[tuple[str, int]]:
    """(kind, bin) for each of the event's latency and time to first token it has."""
    bins: list[tuple[str, int]] = []
    if row["status"] == "refused":  # no model call: no model latency
        return bins
    if row["latency_ms"] is not None:
        bins.append(("latency", sketches.bin_of(row["latency_ms"])))
    if row["ttft_ms"] is not None:
        bins.append(("ttft", sketches.bin_of(row["ttft_ms"])))
    return bins
