"""Daily cumulative monitoring: always-valid mSPRT and a group-sequential test.

Looking at a fixed-horizon test every day and stopping at the first ``p < alpha``
inflates false positives far above ``alpha``. The mixture sequential probability ratio
test (Johari, Koomen, Pekelis, Walsh 2017; Johari, Pekelis, Walsh 2022) gives p-values
and intervals that stay valid however often one looks.

For an estimate ``d_k`` of the effect with variance ``V_k`` at look ``k`` and a normal
mixing distribution ``theta ~ N(theta_0, tau^2)`` over alternatives::

    Lambda_k(theta_0) = sqrt(V_k / (V_k + tau^2))
                        * exp(tau^2 (d_k - theta_0)^2 / (2 V_k (V_k + tau^2)))
    p_k  = min(p_{k-1}, 1 / Lambda_k(0))                     (always-valid p-value)
    CI_k = d_k -/+ sqrt(V_k (V_k + tau^2) / tau^2 * (log((V_k + tau^2) / V_k) - 2 log alpha))
           intersected with CI_{k-1}                         (confidence sequence)

By Ville's inequality ``P(exists k: p_k <= alpha) <= alpha`` under the null when the
estimates behave like a Gaussian process in information time.

How it is applied to daily cumulative metrics here:

* The test runs on the **log ratio** ``d_k = log(m_t / m_c)`` of the cumulative means,
  with the log-scale delta variance ``V_k = v_t / (n_t m_t^2) + v_c / (n_c m_c^2)`` (as in
  ``analysis.ttest``). A relative lift is roughly stable as the window grows while the
  absolute cumulative difference grows every day, and on the log scale ``tau = rel_tau``
  is a fixed mixing scale set before the test (default 0.05: most sensitive to lifts of
  about 5%). ``pvalue`` is the running minimum of ``1 / Lambda_k(0)`` (valid for the
  null "no effect on any day"); the relative interval is ``exp(CI_k) - 1``.
* The interval of the absolute cumulative difference uses ``tau_k = rel_tau |m_k|``
  (``m_k``: both arms pooled, symmetric in the arms).
* Intervals are **not** intersected across days: the cumulative estimand changes with
  the window (a retention effect builds up), and intersecting intervals of different
  estimands would exclude the truth. Each day's interval is that day's always-valid one.

The cumulative estimates of one fixed set of users are not exactly a process with
independent increments, so validity is approximate; the slow Monte-Carlo test
(``tests/statistical/test_sequential_peeking.py``) measures the daily-peeking
false-positive rate against the naive daily t-test.

With a fixed number of planned daily looks the mSPRT is conservative. ``monitor`` also
runs a **group-sequential test** on the same log ratio: Lan-DeMets alpha spending by
calendar fraction over the window's days (:mod:`analysis.group_sequential`), with
boundaries computed for the looks' correlation estimated from the per-user data
(:mod:`analysis.look_covariance`), and repeated confidence intervals ``exp(d_k -/+ c_k
sqrt(V_k)) - 1``. It spends exactly ``alpha`` over the planned looks, so its daily-peeking
false-positive rate is ``alpha`` rather than below it; it is valid only for the planned
window (looking after the last day, or re-planning the window, is not covered).

References:
    Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). Peeking at A/B Tests: Why it
    matters, and what to do about it. KDD 2017.
    Johari, R., Pekelis, L., Walsh, D. (2022). Always Valid Inference: Continuous
    Monitoring of A/B Tests. Operations Research 70(3).
    Howard, S. R., Ramdas, A., McAuliffe, J., Sekhon, J. (2021). Time-uniform,
    nonparametric, nonasymptotic confidence sequences. Ann. Statist. 49(2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError, InsufficientDataError
from analysis.group_sequential import (
    DEFAULT_N_DRAWS,
    SpendingFunction,
    boundary_crossed,
    check_spending,
    repeated_ci,
    spending_boundaries,
)
from analysis.look_covariance import (
    log_ratio_correlation,
    look_covariance,
    look_covariance_columns,
)
from analysis.metrics import DailyTable
from analysis.results import ResultCollection
from analysis.schema import MetricDef, metric_by_name
from analysis.segments import segment_masks
from analysis.ttest import welch_from_stats

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SequentialConfig:
    """Options of daily monitoring.

    Attributes:
        alpha: Level of the always-valid p-values and intervals.
        rel_tau: Standard deviation of the mixing distribution, as a relative lift.
        control: Control arm name.
        treatment: Treatment arm name.
        spending: Lan-DeMets spending function of the group-sequential test
            (``"obrien_fleming"``, ``"pocock"`` or ``"linear"``).
    """

    alpha: float = 0.05
    rel_tau: float = 0.05
    control: str = "control"
    treatment: str = "treatment"
    spending: SpendingFunction = "obrien_fleming"

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise AnalysisError(f"alpha == {self.alpha!r}, must be in (0, 1)")
        if not self.rel_tau > 0:
            raise AnalysisError(f"rel_tau == {self.rel_tau!r}, must be > 0")
        check_spending(self.spending, "SequentialConfig.spending")


@dataclass(frozen=True)
class SequentialResult:
    """One metric, one segment, one day of cumulative monitoring.

    Attributes:
        metric: Metric name.
        segment: Segment name.
        day: Last day included (cumulative from the window start).
        n_control: Control users registered by ``day``.
        n_treatment: Treatment users registered by ``day``.
        control: Control mean of the cumulative metric.
        treatment: Treatment mean.
        effect_size: ``treatment - control``.
        effect_size_ci_lower: Always-valid lower bound of this day's difference.
        effect_size_ci_upper: Always-valid upper bound.
        rel_effect_size: ``treatment / control - 1``.
        rel_effect_size_ci_lower: Always-valid lower bound of the relative lift (log scale).
        rel_effect_size_ci_upper: Upper counterpart.
        pvalue: Always-valid p-value of the log ratio (running minimum of ``1 / Lambda``).
        naive_pvalue: Fixed-horizon Welch p-value at this look (invalid under peeking).
        naive_ci_lower: Fixed-horizon Welch lower bound at this look.
        naive_ci_upper: Fixed-horizon Welch upper bound.
        naive_rel_ci_lower: Fixed-horizon lower bound of the relative lift (log-delta).
        naive_rel_ci_upper: Fixed-horizon upper bound of the relative lift.
        alpha: Level.
        tau: Mixing standard deviation used at this look, in the metric's units.
        gst_boundary: Group-sequential boundary ``c_k`` of ``|log ratio| / se`` at this
            look (Lan-DeMets spending by calendar fraction, estimated look correlation;
            ``inf`` where the look spends no alpha).
        gst_reject: The group-sequential test has rejected at or before this look.
        gst_rel_ci_lower: Repeated confidence interval of the relative lift, lower bound
            (``exp(d_k - c_k sqrt(V_k)) - 1``; -1 where the boundary is infinite).
        gst_rel_ci_upper: Upper counterpart (``inf`` where the boundary is infinite).
    """

    metric: str
    segment: str
    day: int
    n_control: int
    n_treatment: int
    control: float
    treatment: float
    effect_size: float
    effect_size_ci_lower: float
    effect_size_ci_upper: float
    rel_effect_size: float
    rel_effect_size_ci_lower: float
    rel_effect_size_ci_upper: float
    pvalue: float
    naive_pvalue: float
    naive_ci_lower: float
    naive_ci_upper: float
    naive_rel_ci_lower: float
    naive_rel_ci_upper: float
    alpha: float
    tau: float
    gst_boundary: float = math.nan
    gst_reject: bool = False
    gst_rel_ci_lower: float = math.nan
    gst_rel_ci_upper: float = math.nan


def msprt(
    effect: ArrayLike,
    variance: ArrayLike,
    tau: ArrayLike,
    alpha: float = 0.05,
    *,
    intersect: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Always-valid p-values and confidence sequence along the last axis (the looks).

    Args:
        effect: ``(..., K)`` effect estimates at each look.
        variance: ``(..., K)`` their variances ``V_k``.
        tau: ``(..., K)`` or scalar mixing standard deviation.
        alpha: Level.
        intersect: Intersect the intervals over looks (valid for an effect that is the
            same at every look); ``False`` keeps each look's own interval.

    Returns:
        ``(pvalue, ci_lower, ci_upper)``, each ``(..., K)``: running minimum of
        ``1 / Lambda_k(0)`` (capped at 1) and the (running intersection of the) intervals.

    Example:
        >>> p, lo, hi = msprt([0.0, 0.0], [1.0, 0.5], 1.0)
        >>> p.tolist()
        [1.0, 1.0]
    """
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha == {alpha!r}, must be in (0, 1)")
    d = np.asarray(effect, dtype=np.float64)
    v = np.broadcast_to(np.asarray(variance, dtype=np.float64), d.shape)
    t2 = np.broadcast_to(np.asarray(tau, dtype=np.float64) ** 2, d.shape)
    if np.any(v < 0) or np.any(t2 <= 0):
        raise AnalysisError("variance must be >= 0 and tau > 0")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lambda = 0.5 * np.log(v / (v + t2)) + t2 * d**2 / (2 * v * (v + t2))
        log_lambda = np.where(v > 0, log_lambda, np.where(d == 0, 0.0, np.inf))
        p = np.minimum(1.0, np.exp(-log_lambda))
        half = np.sqrt(v * (v + t2) / t2 * (np.log((v + t2) / v) - 2 * np.log(alpha)))
        half = np.where(v > 0, half, 0.0)
    p = np.minimum.accumulate(np.nan_to_num(p, nan=1.0), axis=-1)
    lo = np.nan_to_num(d - half, nan=-np.inf)
    hi = np.nan_to_num(d + half, nan=np.inf)
    if intersect:
        lo = np.maximum.accumulate(lo, axis=-1)
        hi = np.minimum.accumulate(hi, axis=-1)
    return p, lo, hi


def log_ratio_estimates(
    mean_c: ArrayLike,
    var_c: ArrayLike,
    n_c: ArrayLike,
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_t: ArrayLike,
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Log ratio of means and its delta variance at each look.

    Returns:
        ``(d, v, valid)``: ``d = log(m_t / m_c)`` and ``v = v_t / (n_t m_t^2) + v_c / (n_c
        m_c^2)`` where both means are positive (``valid``); elsewhere ``d = 0`` and ``v =
        1e300`` (no information: no test rejects there, intervals are unbounded).
    """
    mc, vc, nc, mt, vt, nt = (
        np.asarray(a, dtype=np.float64) for a in (mean_c, var_c, n_c, mean_t, var_t, n_t)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        valid = (mc > 0) & (mt > 0)
        d = np.where(valid, np.log(np.where(valid, mt / mc, 1.0)), 0.0)
        v = np.where(valid, vc / (nc * mc**2) + vt / (nt * mt**2), np.inf)
    v = np.where(np.isfinite(v), v, 1e300)
    return d, v, valid


def sequential_relative(
    mean_c: ArrayLike,
    var_c: ArrayLike,
    n_c: ArrayLike,
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_t: ArrayLike,
    rel_tau: float,
    alpha: float = 0.05,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """mSPRT on the log ratio of means along the last axis (the looks).

    Looks where a mean is not positive carry no information (``Lambda = 1``).

    Returns:
        ``(pvalue, rel_ci_lower, rel_ci_upper)``: always-valid p-value (running minimum)
        and each look's always-valid interval of ``m_t / m_c - 1``.
    """
    d, v, valid = log_ratio_estimates(mean_c, var_c, n_c, mean_t, var_t, n_t)
    p, lo, hi = msprt(d, v, rel_tau, alpha, intersect=False)
    lo = np.where(valid, np.expm1(lo), np.nan)
    hi = np.where(valid, np.expm1(hi), np.nan)
    return p, lo, hi


def calendar_fraction(days: ArrayLike, n_planned: int) -> FloatArray:
    """Calendar fraction of each look: ``(day - first planned day + 1) / n_planned``.

    The daily table's window is taken as the planned experiment: its first day is day 1
    of ``n_planned`` days, so the last day of the window spends all of ``alpha``.

    Args:
        days: ``(K,)`` days of the looks, as offsets from the window's first day (so the
            window's first day is 0).
        n_planned: Days in the planned experiment (the window's length).

    Returns:
        ``(K,)`` fractions in ``(0, 1]``.

    Example:
        >>> calendar_fraction([0, 1, 3], 4).tolist()
        [0.25, 0.5, 1.0]
    """
    return (np.asarray(days, dtype=np.float64) + 1) / n_planned


def group_sequential_relative(
    mean_c: ArrayLike,
    var_c: ArrayLike,
    n_c: ArrayLike,
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_t: ArrayLike,
    correlation: ArrayLike,
    fraction: ArrayLike,
    alpha: float = 0.05,
    spending: SpendingFunction = "obrien_fleming",
    *,
    n_draws: int = DEFAULT_N_DRAWS,
) -> tuple[FloatArray, NDArray[np.bool_], FloatArray, FloatArray]:
    """Group-sequential test of the log ratio of means along the last axis (the looks).

    ``Z_k = d_k / sqrt(V_k)`` (:func:`log_ratio_estimates`) is compared with the
    Lan-DeMets boundaries for the given look correlation
    (:func:`analysis.group_sequential.spending_boundaries`).

    Args:
        mean_c: ``(..., K)`` control means at each look (``var_c``, ``n_c`` likewise).
        var_c: Control variances (ddof=1).
        n_c: Control counts.
        mean_t: Treatment means.
        var_t: Treatment variances.
        n_t: Treatment counts.
        correlation: ``(K, K)`` or ``(B, K, K)`` correlation of the looks' log ratios
            (:func:`analysis.look_covariance.log_ratio_correlation`).
        fraction: ``(K,)`` calendar or information fractions of the looks.
        alpha: Total two-sided level.
        spending: Spending function.
        n_draws: Monte-Carlo paths of the boundary computation.

    Returns:
        ``(boundary, reject, rel_ci_lower, rel_ci_upper)``, each ``(..., K)``: the
        boundaries ``c_k``, whether the test has rejected at or before each look, and the
        repeated confidence interval of ``m_t / m_c - 1`` (``exp(d_k -/+ c_k sqrt(V_k)) -
        1``; ``nan`` where a mean is not positive).
    """
    d, v, valid = log_ratio_estimates(mean_c, var_c, n_c, mean_t, var_t, n_t)
    boundary = spending_boundaries(correlation, fraction, alpha, spending, n_draws=n_draws)
    boundary = np.broadcast_to(boundary, d.shape)
    reject = boundary_crossed(d, v, boundary)
    lo, hi = repeated_ci(d, v, boundary)
    with np.errstate(over="ignore", invalid="ignore"):
        lo = np.where(valid, np.expm1(lo), np.nan)
        hi = np.where(valid, np.expm1(hi), np.nan)
    return np.asarray(boundary, dtype=np.float64), reject, lo, hi


def cumulative_arm_stats(
    cumulative: FloatArray, treat: NDArray[np.bool_], present: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-day means, variances (ddof=1) and counts of each arm.

    Args:
        cumulative: ``(n_users, K)`` cumulative metric through each look.
        treat: ``(n_users,)`` treatment flag.
        present: ``(n_users, K)`` whether the user is registered by that look.

    Returns:
        ``(mean_c, var_c, n_c, mean_t, var_t, n_t)``, each ``(K,)``.
    """
    out = []
    for arm in (~treat, treat):
        w = present & arm[:, None]
        n = w.sum(axis=0).astype(np.float64)
        s1 = np.where(w, cumulative, 0.0).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = s1 / n
            dev = np.where(w, cumulative - mean, 0.0)
            var = (dev**2).sum(axis=0) / (n - 1)
        out += [mean, var, n]
    return out[0], out[1], out[2], out[3], out[4], out[5]


def monitor(
    daily: DailyTable,
    metrics: Iterable[str | MetricDef] | None = None,
    config: SequentialConfig | None = None,
    segments: tuple[str, ...] = ("all",),
) -> ResultCollection[SequentialResult]:
    """Cumulative daily comparison: always-valid, group-sequential and naive inference.

    Each look ``k`` uses every assigned user registered by day ``k`` with the metric
    accumulated from the window start through day ``k`` (zeros when inactive). Ratio
    metrics use the delta method on the cumulative numerator and denominator.

    The group-sequential test treats the table's window as the planned experiment: it
    spends ``alpha`` by calendar fraction (:func:`calendar_fraction`) over the window's
    days, with the looks' correlation estimated from the same users
    (:mod:`analysis.look_covariance`).

    Args:
        daily: Per-user daily counts (``analysis.metrics.daily_user_metrics``).
        metrics: Metric names or definitions whose columns ``daily`` holds.
        config: Monitoring options.
        segments: Segment specs.

    Returns:
        One record per metric, segment and day.

    Raises:
        InsufficientDataError: An arm has fewer than 2 users on every day of a segment.
    """
    cfg = config or SequentialConfig()
    defs = metric_by_name(metrics)
    arm = daily.users["arm"].astype(str).to_numpy()
    reg = daily.users["registration_day"].to_numpy(dtype=np.int64)
    in_test = (arm == cfg.control) | (arm == cfg.treatment)
    records = []
    for seg_name, mask in segment_masks(daily.users, segments):
        sel = mask & in_test
        treat = arm[sel] == cfg.treatment
        present = reg[sel][:, None] <= daily.days[None, :]
        for mdef in defs:
            num = daily.cumulative(mdef.numer)[sel]
            den = None if mdef.denom is None else daily.cumulative(mdef.denom)[sel]
            if den is None:
                mc, vc, nc, mt, vt, nt = cumulative_arm_stats(num, treat, present)
            else:
                mc, vc, nc, mt, vt, nt = _ratio_arm_stats(num, den, treat, present)
            ok = (nc >= 2) & (nt >= 2) & np.isfinite(mc) & np.isfinite(mt)
            if not ok.any():
                raise InsufficientDataError(
                    f"segment {seg_name!r}, metric {mdef.name!r}: fewer than 2 users per arm "
                    "on every day"
                )
            idx = np.flatnonzero(ok)
            w = welch_from_stats(
                mc[idx], vc[idx], nc[idx], mt[idx], vt[idx], nt[idx], alpha=cfg.alpha
            )
            p, rlo, rhi = sequential_relative(
                mc[idx], vc[idx], nc[idx], mt[idx], vt[idx], nt[idx], cfg.rel_tau, cfg.alpha
            )
            pooled = (mc[idx] * nc[idx] + mt[idx] * nt[idx]) / (nc[idx] + nt[idx])
            tau = cfg.rel_tau * np.maximum(np.abs(pooled), 1e-12)
            _, lo, hi = msprt(w.effect_size, w.se**2, tau, cfg.alpha, intersect=False)
            corr = _look_correlation(num, den, treat, present, mc, mt)[np.ix_(idx, idx)]
            gst_c, gst_reject, glo, ghi = group_sequential_relative(
                mc[idx],
                vc[idx],
                nc[idx],
                mt[idx],
                vt[idx],
                nt[idx],
                corr,
                calendar_fraction(daily.days[idx] - daily.days[0], len(daily.days)),
                cfg.alpha,
                cfg.spending,
            )
            for j, k in enumerate(idx):
                records.append(
                    SequentialResult(
                        metric=mdef.name,
                        segment=seg_name,
                        day=int(daily.days[k]),
                        n_control=int(nc[k]),
                        n_treatment=int(nt[k]),
                        control=float(mc[k]),
                        treatment=float(mt[k]),
                        effect_size=float(w.effect_size[j]),
                        effect_size_ci_lower=float(lo[j]),
                        effect_size_ci_upper=float(hi[j]),
                        rel_effect_size=float(w.rel_effect_size[j]),
                        rel_effect_size_ci_lower=float(rlo[j]),
                        rel_effect_size_ci_upper=float(rhi[j]),
                        pvalue=float(p[j]),
                        naive_pvalue=float(w.pvalue[j]),
                        naive_ci_lower=float(w.effect_size_ci_lower[j]),
                        naive_ci_upper=float(w.effect_size_ci_upper[j]),
                        naive_rel_ci_lower=float(w.rel_effect_size_ci_lower[j]),
                        naive_rel_ci_upper=float(w.rel_effect_size_ci_upper[j]),
                        alpha=cfg.alpha,
                        tau=float(tau[j]),
                        gst_boundary=float(gst_c[j]),
                        gst_reject=bool(gst_reject[j]),
                        gst_rel_ci_lower=float(glo[j]),
                        gst_rel_ci_upper=float(ghi[j]),
                    )
                )
    return ResultCollection(
        records, f"Cumulative daily monitoring (mSPRT; group-sequential, {cfg.spending} spending)"
    )


def _ratio_arm_stats(
    num: FloatArray, den: FloatArray, treat: NDArray[np.bool_], present: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Delta-method per-day stats of ``mean(num) / mean(den)`` for each arm."""
    out = []
    for arm in (~treat, treat):
        w = present & arm[:, None]
        r, lin, n = _ratio_linearised(num, den, w)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = (lin**2).sum(axis=0) / (n - 1)
        out += [r, var, n]
    return out[0], out[1], out[2], out[3], out[4], out[5]


def _ratio_linearised(
    num: FloatArray, den: FloatArray, weight: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-day ratio, linearised per-user values and count over the rows in ``weight``."""
    n = weight.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        my = np.where(weight, num, 0.0).sum(axis=0) / n
        mz = np.where(weight, den, 0.0).sum(axis=0) / n
        r = my / mz
        # Linearised per-user values (y - r z) / mean(z): their variance is the delta one.
        lin = np.where(weight, (num - r * den) / mz, 0.0)
    return r, lin, n


def _look_correlation(
    num: FloatArray,
    den: FloatArray | None,
    treat: NDArray[np.bool_],
    present: NDArray[np.bool_],
    mean_c: FloatArray,
    mean_t: FloatArray,
) -> FloatArray:
    """``(K, K)`` estimated correlation of the looks' log ratios (one segment, one metric)."""
    covs = []
    for arm in (~treat, treat):
        weight = present & arm[:, None]
        values = num if den is None else _ratio_linearised(num, den, weight)[1]
        columns = look_covariance_columns(values[arm], weight[arm])
        covs.append(look_covariance(columns.sum(axis=0), present.shape[1]))
    return log_ratio_correlation(covs[0], mean_c, covs[1], mean_t)


__all__ = [
    "SequentialConfig",
    "SequentialResult",
    "calendar_fraction",
    "cumulative_arm_stats",
    "group_sequential_relative",
    "log_ratio_estimates",
    "monitor",
    "msprt",
    "sequential_relative",
]
