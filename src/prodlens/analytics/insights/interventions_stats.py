"""The two estimators of the intervention analysis, on plain numbers.

NumPy and SciPy are imported at the top: this module is only imported from inside
the worker-thread function of interventions.py, so they load with the first
intervention report, never at start-up (tests/analytics/test_lazy_imports.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    effect: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p: float
    hac_lags: int | None = None  # own trend only


CONFIDENCE = 0.95
# Kiefer & Vogelsang (2005), Bartlett kernel: the two-sided 95 % critical value of a
# HAC t-statistic is z + a1 b + a2 b^2 + a3 b^3, b = bandwidth / sample size.
FIXED_B_95 = (2.9694, 0.4160, -0.5324)


def _negligible(variance: float, scale: float) -> bool:
    """No spread beyond rounding (constant values): no interval can be stated."""
    return not math.isfinite(variance) or variance <= (1e-12 * max(scale, 1.0)) ** 2


def _with_interval(effect: float, se: float, df: float) -> Estimate:
    t_crit = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))
    p = float(2 * stats.t.sf(abs(effect / se), df))
    return Estimate(effect, se, df, effect - t_crit * se, effect + t_crit * se, p)


def welch_difference(treated: Sequence[float], control: Sequence[float]) -> Estimate | None:
    """mean(treated) - mean(control), Welch's standard error and Welch-Satterthwaite
    degrees of freedom. None when either group has fewer than 2 values or nothing
    varies (the standard error is 0: no interval can be stated)."""
    a = np.asarray(treated, dtype=float)
    c = np.asarray(control, dtype=float)
    if a.size < 2 or c.size < 2:
        return None
    share_a = float(a.var(ddof=1)) / a.size
    share_c = float(c.var(ddof=1)) / c.size
    variance = share_a + share_c
    if _negligible(variance, max(abs(a).max(), abs(c).max())):
        return None
    df = variance**2 / (share_a**2 / (a.size - 1) + share_c**2 / (c.size - 1))
    return _with_interval(float(a.mean() - c.mean()), math.sqrt(variance), df)


def newey_west_lags(n: int) -> int:
    """The Newey-West (1994) rule of thumb: floor(4 (n / 100)^(2/9))."""
    return int(4 * (n / 100) ** (2 / 9))  # positive: truncation is the floor


def level_shift(
    offsets: Sequence[float],
    after: Sequence[bool],
    weekdays: Sequence[int],
    values: Sequence[float],
) -> Estimate | None:
    """c of y = a + b t + c after + weekday effects (OLS), with a Newey-West (Bartlett
    kernel) standard error and t on n - k degrees of freedom. None when the design
    cannot identify c or leaves fewer than 3 residual degrees of freedom.

    The standard error is widened by the fixed-b correction of Kiefer and Vogelsang:
    with a step regressor and a few dozen days, plain Newey-West intervals cover
    83-93 % instead of 95 % (simulated: 20-180 working days, AR(1) noise with rho
    0-0.3), the widened ones 90-95 %."""
    y = np.asarray(values, dtype=float)
    n = y.size
    t = np.asarray(offsets, dtype=float)
    step = np.asarray(after, dtype=float)
    days = np.asarray(weekdays)
    columns = [np.ones(n), t - t.mean(), step]
    # One column per weekday but the first seen: the intercept is that weekday's level.
    columns += [(days == day).astype(float) for day in sorted(set(days.tolist()))[1:]]
    x = np.column_stack(columns)
    k = x.shape[1]
    if n - k < 3 or np.linalg.matrix_rank(x) < k:
        return None
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ beta
    bread = np.linalg.inv(x.T @ x)
    scores = x * residuals[:, None]
    lags = newey_west_lags(n)
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        weight = 1 - lag / (lags + 1)
        cross = scores[lag:].T @ scores[:-lag]
        meat += weight * (cross + cross.T)
    # n / (n - k): the usual small-sample scaling, as our series are short (tens of days).
    covariance = bread @ meat @ bread * n / (n - k)
    variance = float(covariance[2, 2])
    if _negligible(variance, float(abs(y).max())):
        return None
    df = n - k
    t_crit = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))
    # The fixed-b critical value, with the t(n - k) quantile in place of z for short series.
    b = (lags + 1) / n
    a1, a2, a3 = FIXED_B_95
    widening = (t_crit + a1 * b + a2 * b**2 + a3 * b**3) / t_crit
    estimate = _with_interval(float(beta[2]), math.sqrt(variance) * widening, df)
    return replace(estimate, hac_lags=lags)
