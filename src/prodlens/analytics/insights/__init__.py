"""Insights: lagged correlation of AI activity with delivery, anomalies, findings.

The series are read from the daily rollups, commits and pull requests
(series.py, O(days) or O(delivery items)); the statistics are plain functions
of those series (analysis.py) that a report runs in a worker thread, because
SciPy is CPU-bound and must not stall the event loop; findings.py words them.

Method:
- Daily series over every UTC day of the window, zero-filled: a day with no
  events is an observation of zero activity, not a missing value.
- At lag L, activity on day t is paired with delivery on day t+L (activity
  leads delivery), so n = days - L pairs. Pearson and Spearman r with
  two-sided p-values; Benjamini-Hochberg q-values across the lags of one
  delivery metric and method. A lag is significant when its Spearman q < alpha
  (rank correlation: robust to the heavy-tailed counts of usage data).
- Anomalies: robust z = 0.6745 (x - median) / MAD. When the MAD is 0 (over
  half the values equal, as in a sparse zero-filled series) the modified
  z-score falls back to the mean absolute deviation: (x - median) /
  (1.253314 * MeanAD), so a lone spike among idle days is still caught.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.insights.series import Series, load_series
from prodlens.analytics.schemas import InsightsReport
from prodlens.analytics.window import Window

DEFAULT_MAX_LAG = 7
DEFAULT_THRESHOLD = 3.5


def _analyze(series: Series, *, max_lag: int, threshold: float) -> dict[str, Any]:
    # NumPy and SciPy load with `analysis` on the first report, in this worker thread:
    # not at start-up (they cost time and memory most processes never use), nor on the loop.
    from prodlens.analytics.insights import analysis

    return analysis.analyze(series, max_lag=max_lag, threshold=threshold)


async def build_report(
    session: AsyncSession, project_id: str, window: Window, *, max_lag: int, threshold: float
) -> InsightsReport:
    series = await load_series(session, project_id, window)
    # SciPy holds the CPU for the whole computation: a worker thread keeps the loop free.
    result = await anyio.to_thread.run_sync(
        partial(_analyze, series, max_lag=max_lag, threshold=threshold)
    )
    return InsightsReport(since=window.since, until=window.until, **result)
