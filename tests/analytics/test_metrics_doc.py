"""docs/metrics.md and the code state the same KPIs and time series metrics."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from prodlens.analytics.kpis import KPIS
from prodlens.analytics.schemas import MetricName

DOC = Path(__file__).parents[2] / "docs" / "metrics.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _rows(section: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `")
    ]


def _number(cell: str) -> float:
    return float(cell.lstrip("≥≤ "))


def test_the_kpi_table_matches_the_catalogue() -> None:
    documented = {row[0].strip("`"): row for row in _rows(_section("KPIs"))}
    assert list(documented) == [kpi.name for kpi in KPIS]
    for kpi in KPIS:
        _, _, unit, direction, good, warning, min_sample = documented[kpi.name]
        assert unit == kpi.unit, kpi.name
        assert f"{direction}_is_better" == kpi.direction, kpi.name
        assert (_number(good), _number(warning)) == (kpi.good, kpi.warning), kpi.name
        assert int(min_sample.split()[0]) == kpi.min_sample, kpi.name


def test_the_time_series_table_lists_every_metric() -> None:
    documented = [
        name
        for row in _rows(_section("Time series"))
        for name in re.findall(r"`([a-z0-9_]+)`", row[0])
    ]
    assert sorted(documented) == sorted(get_args(MetricName))
