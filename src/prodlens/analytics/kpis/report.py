"""KPI values from the raw sums, judged against the targets in force: the KpiReport."""

from __future__ import annotations

import math
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics import formulas
from prodlens.analytics.kpis.catalogue import KPIS, Target, status_of
from prodlens.analytics.kpis.conditions import Filters
from prodlens.analytics.kpis.queries import raw_metrics
from prodlens.analytics.kpis.targets import effective_targets
from prodlens.analytics.schemas import Kpi, KpiReport, RawMetrics
from prodlens.analytics.window import Window
from prodlens.projects.models import Project


def kpi_values(raw: RawMetrics, window: Window) -> dict[str, tuple[float | None, int]]:
    """(value, sample size) per KPI, from the raw sums alone."""
    # Sessions are not counted under a model filter (they span models): no value then.
    sessions = raw.developer_sessions
    return {
        "sessions_per_developer_hour": (
            formulas.sessions_per_developer_hour(sessions, raw.active_developer_hours)
            if sessions is not None
            else None,
            raw.active_developer_hours if sessions is not None else 0,
        ),
        "acceptance_rate": (
            formulas.acceptance_rate(raw.accepted, raw.rejected),
            raw.accepted + raw.rejected,
        ),
        "error_rate": (formulas.error_rate(raw.errors, raw.events), raw.events),
        "latency_p50": (raw.latency_p50_ms, raw.latency_count),
        "latency_p90": (raw.latency_p90_ms, raw.latency_count),
        "latency_p95": (raw.latency_p95_ms, raw.latency_count),
        "latency_p99": (raw.latency_p99_ms, raw.latency_count),
        "tokens_per_accepted_line": (
            formulas.tokens_per_accepted_line(raw.total_tokens, raw.lines_accepted),
            raw.lines_accepted,
        ),
        "cost_per_merged_pr": (
            formulas.cost_per_merged_pr(raw.cost_usd, raw.prs_merged),
            raw.prs_merged,
        ),
        "model_policy_compliance": (
            formulas.model_policy_compliance(raw.compliant_calls, raw.policy_calls),
            raw.policy_calls,
        ),
        "pr_throughput": (formulas.pr_throughput(raw.prs_merged, window.weeks), raw.prs_seen),
        "commit_frequency": (
            formulas.commit_frequency(raw.commits, window.length_days),
            raw.commits,
        ),
        "pr_merge_time": (raw.pr_merge_hours_median, raw.prs_merged),
        "rework_rate": (formulas.rework_rate(raw.prs_reworked, raw.prs_resolved), raw.prs_resolved),
        "cache_hit_ratio": (
            formulas.cache_hit_ratio(raw.cache_read_tokens, raw.input_tokens),
            raw.events,
        ),
        "cost_per_developer_day": (
            formulas.cost_per_developer_day(raw.developer_cost_usd, raw.developer_days),
            raw.developer_days,
        ),
        "copilot_acceptance_by_activity": (
            formulas.ratio(raw.copilot_code_acceptances, raw.copilot_code_generations),
            raw.copilot_code_generations,
        ),
        "copilot_acceptance_by_lines": (
            formulas.ratio(raw.copilot_lines_added, raw.copilot_lines_suggested_added),
            raw.copilot_lines_suggested_added,
        ),
        "claude_code_edit_acceptance": (
            formulas.acceptance_rate(
                raw.claude_code_edits_accepted, raw.claude_code_edits_rejected
            ),
            raw.claude_code_edits_accepted + raw.claude_code_edits_rejected,
        ),
    }


def build_report(raw: RawMetrics, window: Window, targets: Mapping[str, Target]) -> KpiReport:
    values = kpi_values(raw, window)
    kpis = []
    for kpi in KPIS:
        value, sample_size = values[kpi.name]
        if value is not None and not math.isfinite(value):
            value = None
        target = targets[kpi.name]
        kpis.append(
            Kpi(
                name=kpi.name,
                label=kpi.label,
                value=value,
                unit=kpi.unit,
                target=target.good,
                warning_threshold=target.warning,
                direction=kpi.direction,
                status=status_of(value, sample_size, target, kpi.direction),
                sample_size=sample_size,
                min_sample=target.min_sample,
            )
        )
    return KpiReport(
        project_id=raw.project_id,
        since=window.since,
        until=window.until,
        developer=raw.developer,
        model=raw.model,
        kpis=kpis,
    )


async def compute_kpis(
    session: AsyncSession, project: Project, window: Window, filters: Filters
) -> KpiReport:
    raw = await raw_metrics(session, project, window, filters)
    return build_report(raw, window, effective_targets(project))
