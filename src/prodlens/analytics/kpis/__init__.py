"""KPIs for a project and window: the catalogue (catalogue.py), the raw sums read in
SQL (queries.py, usage data in usage.py, filters in conditions.py), per-project
targets (targets.py) and the report (report.py).

docs/metrics.md states each definition; analytics/formulas.py computes each
ratio. Keep the three in step.
"""

from prodlens.analytics.kpis.catalogue import KPIS, KpiDefinition, Target, status_of
from prodlens.analytics.kpis.conditions import Filters, rollup_conditions, session_conditions
from prodlens.analytics.kpis.queries import model_allowed, raw_metrics, resolve_window
from prodlens.analytics.kpis.report import build_report, compute_kpis, kpi_values
from prodlens.analytics.kpis.targets import (
    InvalidTarget,
    UnknownKpi,
    effective_targets,
    set_targets,
    targets_public,
)

__all__ = [
    "KPIS",
    "Filters",
    "InvalidTarget",
    "KpiDefinition",
    "Target",
    "UnknownKpi",
    "build_report",
    "compute_kpis",
    "effective_targets",
    "kpi_values",
    "model_allowed",
    "raw_metrics",
    "resolve_window",
    "rollup_conditions",
    "session_conditions",
    "set_targets",
    "status_of",
    "targets_public",
]
