"""Calibration of the insights: how often they find something that is not there, and
how often they find what is.

Generates synthetic teams (tests/analytics/insight_scenarios.py: working weeks,
autocorrelated busy spells, developers with their own rates, sparse pilots) and
runs the report's statistics on each, exactly as `GET .../insights` does:

- null scenarios (i.i.d., weekly independent, AR(1) independent, AR(1) + weekly,
  sparse): the share of datasets with any correlation finding (goal <= 5 %), and
  with any anomaly (goal <= 5 %, spike-free data);
- planted lag 2 (commits follow usage two working days later, on top of the weekly
  cycle): the share where lag 2 of commits is the headline (goal >= 80 %);
- a planted 5x developer-day on each null scenario: the share where that
  developer-day is flagged (goal >= 80 %).

    .venv/bin/python bench/calibrate_insights.py --datasets 200

Each figure is printed with its count and a 95 % Wilson interval.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.analytics.insight_scenarios import (
    NULL_SCENARIOS,
    PLANTED_LAG,
    SCENARIOS,
    Dataset,
    generate,
)

from prodlens.analytics.calendar import WorkCalendar
from prodlens.analytics.insights.analysis import analyze

CALENDAR = WorkCalendar()
MAX_LAG = 7


def wilson(hits: int, total: int) -> tuple[float, float]:
    if total == 0:
        return (0.0, 1.0)
    z = 1.96
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return (
        max(centre - half / (1 + z * z / total), 0.0),
        min(centre + half / (1 + z * z / total), 1.0),
    )


def report(dataset: Dataset) -> dict[str, Any]:
    return analyze(dataset.series, CALENDAR, max_lag=MAX_LAG)


def correlation_found(result: dict[str, Any]) -> bool:
    return any(f.kind == "correlation" for f in result["findings"])


def anomaly_found(result: dict[str, Any]) -> bool:
    return any(s.outliers for s in result["anomalies"].series)


def lag_two_headline(result: dict[str, Any]) -> bool:
    headline = result["headline"]
    return (
        headline is not None
        and headline.kind == "correlation"
        and headline.evidence["metric"] == "commits"
        and headline.evidence["lag"] == PLANTED_LAG
    )


def spike_found(result: dict[str, Any], dataset: Dataset) -> bool:
    assert dataset.spike is not None
    developer, day = dataset.spike
    return any(
        o.developer == developer and o.day == day
        for s in result["anomalies"].series
        for o in s.outliers
    )


def line(label: str, hits: int, total: int, goal: str) -> str:
    low, high = wilson(hits, total)
    share = f"{hits / total:6.1%}  [{low:5.1%}, {high:5.1%}]"
    return f"  {label:<44} {hits:>4}/{total:<4} {share}  goal {goal}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=200, help="per scenario (default 200)")
    parser.add_argument("--days", type=int, default=60, help="days per dataset (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    args = parser.parse_args()
    n, started = args.datasets, time.perf_counter()
    seeds = range(args.seed, args.seed + n)
    print(f"{n} datasets of {args.days} days per scenario; share, count, 95 % Wilson interval")
    print("Correlation findings on independent series (false discoveries):")
    anomaly_lines = []
    for scenario in NULL_SCENARIOS:
        results = [report(generate(scenario, seed, days=args.days)) for seed in seeds]
        hits = sum(correlation_found(r) for r in results)
        print(line(scenario, hits, n, "<= 5 %"))
        alarms = sum(anomaly_found(r) for r in results)
        anomaly_lines.append(line(scenario, alarms, n, "<= 5 %"))
    print("Planted lag-2 relation on the weekly cycle (lag 2 of commits is the headline):")
    planted = [generate("planted_lag2", seed, days=args.days) for seed in seeds]
    print(line("planted_lag2", sum(lag_two_headline(report(d)) for d in planted), n, ">= 80 %"))
    print("Anomalies on spike-free data (any day or developer-day flagged):")
    print("\n".join(anomaly_lines))
    print("Planted 5x developer-day (that developer-day flagged):")
    for scenario in NULL_SCENARIOS:
        if scenario == "sparse":
            continue  # no developer has the 10 active days a baseline needs
        spiked = [generate(scenario, seed, days=args.days, spike=True) for seed in seeds]
        hits = sum(spike_found(report(d), d) for d in spiked)
        print(line(scenario, hits, n, ">= 80 %"))
    print(f"({time.perf_counter() - started:.0f} s; scenarios: {', '.join(SCENARIOS)})")


if __name__ == "__main__":
    main()
