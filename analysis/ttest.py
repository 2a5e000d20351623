"""Welch's t-test on the difference of two means, with relative-lift intervals.

All functions are vectorised: every argument may be an array of any shape (metrics,
segments, re-randomisations), and so is every output field.

Absolute difference (Welch 1947; Satterthwaite 1946)::

    d = m_t - m_c,   se = sqrt(v_t / n_t + v_c / n_c)
    df = se^4 / ((v_t / n_t)^2 / (n_t - 1) + (v_c / n_c)^2 / (n_c - 1))
    CI = d -/+ t_{df, 1 - alpha/2} se,   p = 2 P(T_df > |d| / se)

Relative lift ``r = m_t / m_c - 1``, two intervals:

* ``"log_delta"`` (tea-tasting's default): by the delta method,
  ``Var(log m) ~ v / (n m^2)``, so ``log(m_t / m_c)`` has standard error
  ``se_log = sqrt(v_t / (n_t m_t^2) + v_c / (n_c m_c^2))`` with its own Welch df, and
  ``CI = (m_t / m_c) exp(-/+ t_{df_log} se_log) - 1``. Requires both means > 0.
* ``"fieller"`` (Fieller 1954): the set of ``rho`` with
  ``(m_t - rho m_c)^2 <= q^2 (a + rho^2 b)``, ``a = v_t / n_t``, ``b = v_c / n_c``:
  ``[m_t m_c -/+ q sqrt(a m_c^2 + b m_t^2 - q^2 a b)] / (m_c^2 - q^2 b) - 1``; bounded
  only when ``m_c^2 > q^2 b`` (the control mean is significantly non-zero), NaN otherwise.

References:
    Welch, B. L. (1947). The generalization of Student's problem when several different
    population variances are involved. Biometrika 34, 28-35.
    Fieller, E. C. (1954). Some problems in interval estimation. JRSS B 16, 175-185.
    tea-tasting, ``src/tea_tasting/metrics/mean.py`` (log-scale delta-method interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError, InsufficientDataError

FloatArray = NDArray[np.float64]
Alternative = Literal["two-sided", "greater", "less"]
RelCI = Literal["log_delta", "fieller"]


@dataclass(frozen=True)
class WelchArrays:
    """Welch test outputs, one array element per comparison.

    Attributes:
        control: Control mean ``m_c``.
        treatment: Treatment mean ``m_t``.
        effect_size: ``m_t - m_c``.
        effect_size_ci_lower: Lower bound of the absolute interval.
        effect_size_ci_upper: Upper bound of the absolute interval.
        rel_effect_size: ``m_t / m_c - 1``.
        rel_effect_size_ci_lower: Lower bound of the relative interval.
        rel_effect_size_ci_upper: Upper bound of the relative interval.
        pvalue: p-value of ``H0: m_t == m_c`` against ``alternative``.
        statistic: ``(m_t - m_c) / se``.
        se: Standard error of the difference.
        df: Welch-Satterthwaite degrees of freedom (``inf`` with ``use_t=False``).
    """

    control: FloatArray
    treatment: FloatArray
    effect_size: FloatArray
    effect_size_ci_lower: FloatArray
    effect_size_ci_upper: FloatArray
    rel_effect_size: FloatArray
    rel_effect_size_ci_lower: FloatArray
    rel_effect_size_ci_upper: FloatArray
    pvalue: FloatArray
    statistic: FloatArray
    se: FloatArray
    df: FloatArray


def welch_df(var_c: ArrayLike, n_c: ArrayLike, var_t: ArrayLike, n_t: ArrayLike) -> FloatArray:
    """Welch-Satterthwaite degrees of freedom of ``var_c / n_c + var_t / n_t``."""
    vc = np.asarray(var_c, dtype=np.float64) / np.asarray(n_c, dtype=np.float64)
    vt = np.asarray(var_t, dtype=np.float64) / np.asarray(n_t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (vc + vt) ** 2 / (vc**2 / (np.asarray(n_c) - 1.0) + vt**2 / (np.asarray(n_t) - 1.0))
    return np.asarray(df, dtype=np.float64)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise AnalysisError(f"alpha == {alpha!r}, must be in (0, 1)")


def welch_from_stats(
    mean_c: ArrayLike,
    var_c: ArrayLike,
    n_c: ArrayLike,
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_t: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    rel_ci: RelCI = "log_delta",
    use_t: bool = True,
) -> WelchArrays:
    """Welch's test from per-arm means, per-user variances and counts.

    Zero variance in both arms is a documented result, not an error: the difference is
    then known exactly, so ``se = 0``, the interval collapses to the point and the p-value
    is 1 if the means are equal and 0 otherwise. A relative interval needs positive means
    (log scale) or a control mean significantly non-zero (Fieller); otherwise it is NaN.

    Args:
        mean_c: Control means.
        var_c: Control per-user variances (``ddof=1``).
        n_c: Control counts (>= 2).
        mean_t: Treatment means.
        var_t: Treatment per-user variances.
        n_t: Treatment counts (>= 2).
        alpha: Significance level; intervals have coverage ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment > control) or ``"less"``.
        rel_ci: Relative interval method, ``"log_delta"`` or ``"fieller"``.
        use_t: Student's t with Welch df (True) or the normal distribution (False).

    Returns:
        The arrays of :class:`WelchArrays`, broadcast to a common shape.

    Raises:
        InsufficientDataError: An arm has fewer than 2 users.
        AnalysisError: ``alpha`` outside (0, 1), or an unknown option.

    Example:
        >>> r = welch_from_stats(10.0, 4.0, 100, 11.0, 4.0, 100)
        >>> round(float(r.effect_size), 3), round(float(r.pvalue), 6)
        (1.0, 0.000507)
    """
    _check_alpha(alpha)
    if alternative not in ("two-sided", "greater", "less"):
        raise AnalysisError(
            f"alternative == {alternative!r}, must be 'two-sided', 'greater' or 'less'"
        )
    if rel_ci not in ("log_delta", "fieller"):
        raise AnalysisError(f"rel_ci == {rel_ci!r}, must be 'log_delta' or 'fieller'")
    mc, vc, nc, mt, vt, nt = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (mean_c, var_c, n_c, mean_t, var_t, n_t))
    )
    for name, n in (("n_control", nc), ("n_treatment", nt)):
        if np.any(n < 2):
            raise InsufficientDataError(
                f"{name} == {int(np.min(n))}, must be >= 2 for a variance estimate"
            )
    if np.any(np.isnan(mc) | np.isnan(mt) | np.isnan(vc) | np.isnan(vt)):
        raise AnalysisError("a mean or variance is NaN; inputs must be finite")

    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(vc / nc + vt / nt)
        effect = mt - mc
        stat = np.where(se > 0, effect / se, np.where(effect == 0, 0.0, np.sign(effect) * np.inf))
        df = welch_df(vc, nc, vt, nt) if use_t else np.full_like(se, np.inf)
        df = np.where(se > 0, df, np.inf)
        dist = _dist(df, use_t)
        lo, hi, pvalue = _interval_and_p(effect, se, stat, dist, alpha, alternative)

        ratio = mt / mc
        if rel_ci == "log_delta":
            log_se = np.sqrt(vc / (nc * mc**2) + vt / (nt * mt**2))
            log_df = welch_df(vc / mc**2, nc, vt / mt**2, nt) if use_t else np.inf
            log_df = np.where(log_se > 0, log_df, np.inf)
            log_dist = _dist(log_df, use_t)
            valid = (mc > 0) & (mt > 0)
            if alternative == "two-sided":
                half = np.exp(log_se * log_dist.ppf(1 - alpha / 2))
                rlo, rhi = ratio / half, ratio * half
            elif alternative == "greater":
                rlo, rhi = ratio * np.exp(log_se * log_dist.isf(1 - alpha)), np.inf
            else:
                rlo, rhi = -np.inf, ratio * np.exp(log_se * log_dist.ppf(1 - alpha))
            rlo = np.where(valid, rlo, np.nan)
            rhi = np.where(valid, rhi, np.nan)
        else:
            rlo, rhi = _fieller(mc, vc / nc, mt, vt / nt, dist, alpha, alternative)
    return WelchArrays(
        control=mc,
        treatment=mt,
        effect_size=effect,
        effect_size_ci_lower=np.asarray(lo, dtype=np.float64),
        effect_size_ci_upper=np.asarray(hi, dtype=np.float64),
        rel_effect_size=ratio - 1.0,
        rel_effect_size_ci_lower=np.asarray(rlo, dtype=np.float64) - 1.0,
        rel_effect_size_ci_upper=np.asarray(rhi, dtype=np.float64) - 1.0,
        pvalue=np.asarray(pvalue, dtype=np.float64),
        statistic=np.asarray(stat, dtype=np.float64),
        se=se,
        df=np.asarray(df, dtype=np.float64),
    )


def _dist(df: FloatArray | float, use_t: bool) -> scipy.stats.rv_continuous:
    # The t distribution with df = inf is the normal one; scipy handles inf df exactly.
    return scipy.stats.t(df=df) if use_t else scipy.stats.norm()


def _interval_and_p(
    effect: FloatArray,
    se: FloatArray,
    stat: FloatArray,
    dist: scipy.stats.rv_continuous,
    alpha: float,
    alternative: Alternative,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    zero = se == 0
    if alternative == "two-sided":
        half = np.where(zero, 0.0, se * dist.ppf(1 - alpha / 2))
        p = np.where(zero, np.where(effect == 0, 1.0, 0.0), 2 * dist.sf(np.abs(stat)))
        return effect - half, effect + half, p
    if alternative == "greater":
        lo = effect - np.where(zero, 0.0, se * dist.ppf(1 - alpha))
        p = np.where(zero, np.where(effect > 0, 0.0, 1.0), dist.sf(stat))
        return lo, np.full_like(effect, np.inf), p
    hi = effect + np.where(zero, 0.0, se * dist.ppf(1 - alpha))
    p = np.where(zero, np.where(effect < 0, 0.0, 1.0), dist.cdf(stat))
    return np.full_like(effect, -np.inf), hi, p


def _fieller(
    mc: FloatArray,
    b: FloatArray,
    mt: FloatArray,
    a: FloatArray,
    dist: scipy.stats.rv_continuous,
    alpha: float,
    alternative: Alternative,
) -> tuple[FloatArray, FloatArray]:
    """Fieller bounds of ``m_t / m_c`` for independent means (``a``, ``b``: their variances)."""
    level = 1 - alpha / 2 if alternative == "two-sided" else 1 - alpha
    q = dist.ppf(level)
    denom = mc**2 - q**2 * b
    disc = a * mc**2 + b * mt**2 - q**2 * a * b
    bounded = (denom > 0) & (disc >= 0)
    root = q * np.sqrt(np.where(bounded, disc, 0.0))
    lo = np.where(bounded, (mt * mc - root) / denom, np.nan)
    hi = np.where(bounded, (mt * mc + root) / denom, np.nan)
    # Dividing by a negative control mean flips the order of the roots.
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    if alternative == "greater":
        return lo, np.full_like(lo, np.inf)
    if alternative == "less":
        return np.full_like(hi, -np.inf), hi
    return lo, hi


def welch_from_values(
    control: ArrayLike,
    treatment: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    rel_ci: RelCI = "log_delta",
    use_t: bool = True,
) -> WelchArrays:
    """Welch's test on two samples of per-user values (see :func:`welch_from_stats`).

    Raises:
        AnalysisError: A sample holds NaN or infinite values.
        InsufficientDataError: A sample has fewer than 2 values.
    """
    c = np.asarray(control, dtype=np.float64)
    t = np.asarray(treatment, dtype=np.float64)
    for name, x in (("control", c), ("treatment", t)):
        if x.size and not np.all(np.isfinite(x)):
            raise AnalysisError(f"{name} has {int((~np.isfinite(x)).sum())} NaN/inf values")
        if x.size < 2:
            raise InsufficientDataError(f"n_{name} == {x.size}, must be >= 2")
    return welch_from_stats(
        c.mean(),
        c.var(ddof=1),
        c.size,
        t.mean(),
        t.var(ddof=1),
        t.size,
        alpha=alpha,
        alternative=alternative,
        rel_ci=rel_ci,
        use_t=use_t,
    )


__all__ = [
    "Alternative",
    "RelCI",
    "WelchArrays",
    "welch_df",
    "welch_from_stats",
    "welch_from_values",
]
