"""Per-project KPI targets: overrides of the catalogue's thresholds, kept in the
project's settings under `kpi_targets`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.kpis.catalogue import BY_NAME, HIGHER, KPIS, KpiDefinition, Target
from prodlens.analytics.schemas import TargetPublic, TargetsPublic, TargetsUpdate
from prodlens.kit.clock import Clock
from prodlens.kit.errors import ProblemError
from prodlens.projects.models import Project

SETTINGS_KEY = "kpi_targets"


class UnknownKpi(ProblemError):
    status, code, title = 422, "metrics.unknown_kpi", "Unknown KPI name"


class InvalidTarget(ProblemError):
    status, code, title = 422, "metrics.invalid_target", "Inconsistent KPI target"


def _merged(kpi: KpiDefinition, override: Mapping[str, Any]) -> Target:
    good = override.get("good")
    warning = override.get("warning")
    min_sample = override.get("min_sample")
    return Target(
        kpi.good if good is None else float(good),
        kpi.warning if warning is None else float(warning),
        kpi.min_sample if min_sample is None else int(min_sample),
    )


def _overrides(project: Project) -> dict[str, dict[str, Any]]:
    stored = (project.settings or {}).get(SETTINGS_KEY) or {}
    # A name no longer defined (a KPI renamed in an upgrade) is ignored, not fatal.
    return {name: dict(value) for name, value in stored.items() if name in BY_NAME}


def effective_targets(project: Project) -> dict[str, Target]:
    overrides = _overrides(project)
    return {kpi.name: _merged(kpi, overrides.get(kpi.name, {})) for kpi in KPIS}


def targets_public(project: Project) -> TargetsPublic:
    overrides = _overrides(project)
    targets = effective_targets(project)
    return TargetsPublic(
        targets=[
            TargetPublic(
                name=kpi.name,
                label=kpi.label,
                unit=kpi.unit,
                direction=kpi.direction,
                good=targets[kpi.name].good,
                warning=targets[kpi.name].warning,
                min_sample=targets[kpi.name].min_sample,
                customized=kpi.name in overrides,
            )
            for kpi in KPIS
        ]
    )


def _check(kpi: KpiDefinition, target: Target) -> None:
    if kpi.ratio and max(target.good, target.warning) > 1:
        raise InvalidTarget(
            f"{kpi.name} is a ratio: its thresholds lie between 0 and 1.",
            extra={"kpi": kpi.name},
        )
    consistent = (
        target.good >= target.warning if kpi.direction == HIGHER else target.good <= target.warning
    )
    if not consistent:
        relation = "at least" if kpi.direction == HIGHER else "at most"
        raise InvalidTarget(
            f"{kpi.name} is {kpi.direction.replace('_', ' ')}: good must be {relation} warning "
            f"(got good={target.good:g}, warning={target.warning:g}).",
            extra={"kpi": kpi.name},
        )


async def set_targets(
    session: AsyncSession, project: Project, update: TargetsUpdate, *, clock: Clock
) -> TargetsPublic:
    unknown = sorted(set(update.targets) - BY_NAME.keys())
    if unknown:
        raise UnknownKpi(
            f"Unknown KPI: {', '.join(unknown)}.",
            extra={"unknown": unknown, "allowed": [kpi.name for kpi in KPIS]},
        )
    stored: dict[str, dict[str, Any]] = {}
    for name, override in update.targets.items():
        values = override.model_dump(exclude_none=True)
        _check(BY_NAME[name], _merged(BY_NAME[name], values))
        stored[name] = values
    # Re-read the settings with the row locked: other writers (the GitHub secret) keep
    # their keys. A new dict, so the JSON column is seen as changed.
    await session.refresh(project, attribute_names=["settings"], with_for_update=True)
    project.settings = {**(project.settings or {}), SETTINGS_KEY: stored}
    project.updated_at = clock.now()
    await session.flush()
    return targets_public(project)
