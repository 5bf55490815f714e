"""Lagged correlation of AI activity with delivery, with the calendar taken out.

Two series that both follow the working week (busy weekdays, quiet weekends) or
both drift correlate strongly without being related at all. So, per series:

1. Only working days count (the project's calendar): a weekend or a holiday is a
   day off, not an observation of zero. Lags count working days.
2. Each series is put on a log scale (log1p: counts are heavy-tailed) and a least-
   squares fit of weekday levels and a linear trend is removed; the residuals are
   what a day did beyond what its weekday and the trend predict, winsorized at
   _CLIP robust standard deviations so one runaway day cannot decide a correlation.
3. Both residual series go through the AR(1) filter that whitens activity
   (prewhitening, Box-Jenkins), so a relation at lag L stays at lag L.
4. At lag L, activity on working day k is paired with delivery on working day k+L.
   Pearson r of the pairs. What autocorrelation remains makes n pairs worth fewer
   independent ones: the effective sample size n_eff = n / (1 + 2 sum_j rho_x(j)
   rho_y(j)), j = 1.._ACF_LAGS (Bartlett; Pyper and Peterman 1998), in a t-test with
   n_eff - 2 - (parameters fitted) degrees of freedom, and a Fisher-z confidence
   interval with n_eff.
5. When ties dominate (over half of a series' working days share one value, as
   sparse series of zeros do) the p-value is the larger of that test's and a
   permutation test's.
6. Benjamini-Hochberg across every (metric, lag) the report tests: one family
   (analysis.py applies it).

NumPy and SciPy are imported here: this module loads with the first report only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from prodlens.analytics.schemas import ALPHA, MIN_ACTIVE_DAYS, AnalysisStatus

Array = np.ndarray[Any, Any]

MIN_PAIRS = 10  # working-day pairs at a lag before it is tested
_ACF_LAGS = 3  # autocorrelation lags summed for the effective sample size
_PERMUTATIONS = 4999
_TIED_SHARE = 0.5
_CLIP = 3.0


@dataclass(frozen=True)
class Adjusted:
    residuals: Array  # one per working day, in order
    parameters: int  # columns of the fit that produced them
    active_days: int  # working days with a non-zero value
    tied: bool  # over half the working days share one value


@dataclass(frozen=True)
class LagTest:
    lag: int
    n: int
    n_eff: float
    r: float
    p: float
    ci: tuple[float, float]
    spearman_r: float
    spearman_p: float


def adjust(values: Sequence[float], working: Array, weekdays: Array) -> Adjusted:
    """Residuals of log1p(values) on working days after weekday levels and a trend."""
    x = np.asarray(values, dtype=float)
    on = np.flatnonzero(working)
    if len(on) == 0:  # no working day in the window: nothing to adjust or test
        return Adjusted(residuals=np.empty(0), parameters=1, active_days=0, tied=False)
    y = np.log1p(np.maximum(x[on], 0.0))
    columns = [np.ones(len(on))]
    if len(on) > 2:
        position = on.astype(float)
        columns.append((position - position.mean()) / max(float(np.ptp(position)), 1.0))
    present = [day for day in range(7) if np.count_nonzero(weekdays[on] == day) >= 2]
    for day in present[1:]:  # the first weekday present is the intercept's level
        columns.append((weekdays[on] == day).astype(float))
    design = np.column_stack(columns)
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coefficients
    # One runaway day (an agent loop) must not decide a correlation: residuals beyond
    # _CLIP robust standard deviations are pulled in to that bound (winsorized).
    bound = _CLIP * 1.4826 * float(np.median(np.abs(residuals)))
    if bound > 0:
        residuals = np.clip(residuals, -bound, bound)
    values_on = x[on]
    _, counts = np.unique(values_on, return_counts=True)
    return Adjusted(
        residuals=residuals,
        parameters=design.shape[1],
        active_days=int(np.count_nonzero(values_on > 0)),
        tied=bool(counts.max() > _TIED_SHARE * len(on)),
    )


def prewhiten(x: Adjusted, y: Adjusted) -> tuple[Adjusted, Adjusted, float]:
    """Both series through the AR(1) filter that whitens activity (Box-Jenkins):
    x'(k) = x(k) - phi x(k-1) over the sequence of working days; the same for y."""
    phi = _autocorrelation(x.residuals, 1)
    filtered = [
        Adjusted(a.residuals[1:] - phi * a.residuals[:-1], a.parameters + 1, a.active_days, a.tied)
        for a in (x, y)
    ]
    return filtered[0], filtered[1], phi


def _autocorrelation(u: Array, lag: int) -> float:
    if len(u) - lag < 3:
        return 0.0
    total = float(u @ u)
    return float(u[:-lag] @ u[lag:]) / total if total > 0 else 0.0


def _pearson(x: Array, y: Array) -> float:
    x = x - x.mean()
    y = y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / denominator if denominator > 0 else 0.0


def _t_test(r: float, df: float) -> float:
    r = min(max(r, -0.999999), 0.999999)
    t = r * math.sqrt(df / (1 - r * r))
    return float(2 * stats.t.sf(abs(t), df))


def _permutation_p(x: Array, y: Array, r: float, rng: np.random.Generator) -> float:
    """Two-sided share of pairings at least as strong as the observed one."""
    xs = (x - x.mean()) / (np.linalg.norm(x - x.mean()) or 1.0)
    ys = (y - y.mean()) / (np.linalg.norm(y - y.mean()) or 1.0)
    shuffled = np.argsort(rng.random((_PERMUTATIONS, len(ys))), axis=1)
    permuted = ys[shuffled] @ xs
    return float((np.count_nonzero(np.abs(permuted) >= abs(r) - 1e-12) + 1) / (_PERMUTATIONS + 1))


def lag_test(x: Adjusted, y: Adjusted, lag: int, rng: np.random.Generator) -> LagTest | None:
    """The test at one lag, or None when too few working-day pairs overlap."""
    a = x.residuals[: len(x.residuals) - lag]
    b = y.residuals[lag:]
    n = len(a)
    if n < MIN_PAIRS:
        return None
    r = _pearson(a, b)
    inflation = 1.0
    for j in range(1, min(_ACF_LAGS, n // 3) + 1):
        inflation += (
            2 * (1 - j / n) * _autocorrelation(x.residuals, j) * _autocorrelation(y.residuals, j)
        )
    n_eff = min(float(n), n / max(inflation, 1e-9))
    # The fits removed (parameters - 1) degrees of freedom beyond the mean from each side.
    df = max(n_eff - 2 - (max(x.parameters, y.parameters) - 1), 2.0)
    p = _t_test(r, df)
    rho = _pearson(stats.rankdata(a), stats.rankdata(b))
    spearman_p = _t_test(rho, df)
    if x.tied or y.tied:
        p = max(p, _permutation_p(a, b, r, rng))
        spearman_p = max(spearman_p, _permutation_p(stats.rankdata(a), stats.rankdata(b), rho, rng))
    half_width = stats.norm.ppf(1 - ALPHA / 2) / math.sqrt(max(n_eff - 3, 1.0))
    z = math.atanh(min(max(r, -0.999999), 0.999999))
    return LagTest(
        lag=lag,
        n=n,
        n_eff=n_eff,
        r=r,
        p=p,
        ci=(math.tanh(z - half_width), math.tanh(z + half_width)),
        spearman_r=rho,
        spearman_p=spearman_p,
    )


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    if not pvalues:
        return []
    return [float(q) for q in stats.false_discovery_control(np.asarray(pvalues), method="bh")]


@dataclass(frozen=True)
class MetricTests:
    """One delivery metric's lags; `reason` says why nothing was tested."""

    tests: dict[int, LagTest]
    reason: AnalysisStatus | None


def correlate_all(
    activity: Sequence[float],
    deliveries: Mapping[str, Sequence[float]],
    working: Array,
    weekdays: Array,
    max_lag: int,
    *,
    seed: int = 0,
) -> dict[str, MetricTests]:
    """Every metric's lag tests (their q-values are for the caller, over one family)."""
    rng = np.random.default_rng(seed)
    x = adjust(activity, working, weekdays)
    results: dict[str, MetricTests] = {}
    for metric, series in deliveries.items():
        y = adjust(series, working, weekdays)
        if x.active_days < MIN_ACTIVE_DAYS or y.active_days < MIN_ACTIVE_DAYS:
            results[metric] = MetricTests({}, "insufficient_data")
            continue
        if np.std(x.residuals) < 1e-12 or np.std(y.residuals) < 1e-12:
            results[metric] = MetricTests({}, "constant_input")
            continue
        xw, yw, _ = prewhiten(x, y)
        tests = {}
        for lag in range(max_lag + 1):
            test = lag_test(xw, yw, lag, rng)
            if test is not None:
                tests[lag] = test
        results[metric] = MetricTests(tests, None if tests else "insufficient_data")
    return results
