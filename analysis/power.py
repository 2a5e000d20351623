"""Power and minimum detectable effect (MDE), from the pre-period before the test starts.

Normal approximation for the difference of two means with per-user standard deviation
``sigma`` and ``se = sigma sqrt(1 / n_c + 1 / n_t)`` (two-sided, level ``alpha``)::

    power(d) = Phi(|d| / se - z_{1 - alpha/2}) + Phi(-|d| / se - z_{1 - alpha/2})
    MDE      = (z_{1 - alpha/2} + z_{power}) se            (the first term only)

the same formulas as ``statsmodels.stats.power.NormalIndPower`` with
``effect_size = d / sigma`` and ``ratio = n_t / n_c``. The pre-period gives ``sigma`` and
the baseline mean of each metric (ratio metrics by the delta method), so the MDE can be
read before launch; CUPED would shrink it by ``sqrt(1 - var_reduction)``.

References:
    Kohavi, R., Tang, D., Xu, Y. (2020). Trustworthy Online Controlled Experiments,
    ch. 17 (power and sample size).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from analysis.errors import AnalysisError, InsufficientDataError, SchemaError
from analysis.moments import Moments
from analysis.ratio import ratio_stats
from analysis.results import ResultCollection
from analysis.schema import HAS_PRE_COLUMN, PRE_PREFIX, MetricDef, metric_by_name
from analysis.segments import segment_masks


@dataclass(frozen=True)
class PowerResult:
    """Pre-period power analysis of one metric in one segment.

    Attributes:
        metric: Metric name.
        segment: Segment name.
        n_control: Planned control users.
        n_treatment: Planned treatment users.
        baseline: Pre-period mean (ratio of means for ratio metrics).
        std: Pre-period per-user standard deviation (delta method for ratios).
        alpha: Two-sided significance level.
        power: Target power of the MDE.
        mde: Minimum detectable absolute effect.
        rel_mde: ``mde / baseline``.
        n_pre_users: Users with a pre-period that the estimates come from.
    """

    metric: str
    segment: str
    n_control: int
    n_treatment: int
    baseline: float
    std: float
    alpha: float
    power: float
    mde: float
    rel_mde: float
    n_pre_users: int


def _check(alpha: float, n_control: float, n_treatment: float, std: float) -> None:
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha == {alpha!r}, must be in (0, 1)")
    if n_control < 1 or n_treatment < 1:
        raise AnalysisError(
            f"n_control == {n_control}, n_treatment == {n_treatment}; both must be >= 1"
        )
    if not std >= 0:
        raise AnalysisError(f"std == {std!r}, must be >= 0")


def power_for_effect(
    effect_size: float, std: float, n_control: float, n_treatment: float, alpha: float = 0.05
) -> float:
    """Two-sided power of Welch/z test for an absolute effect (normal approximation).

    Example:
        >>> round(power_for_effect(0.2, 1.0, 400, 400), 4)
        0.8074
    """
    _check(alpha, n_control, n_treatment, std)
    se = std * np.sqrt(1 / n_control + 1 / n_treatment)
    if se == 0:
        return 1.0 if effect_size != 0 else alpha
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    shift = abs(effect_size) / se
    return float(scipy.stats.norm.cdf(shift - z) + scipy.stats.norm.cdf(-shift - z))


def mde(
    std: float, n_control: float, n_treatment: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Minimum detectable absolute effect at ``power`` (two-sided, normal approximation).

    Example:
        >>> round(mde(1.0, 400, 400), 4)
        0.1981
    """
    _check(alpha, n_control, n_treatment, std)
    if not 0 < power < 1:
        raise AnalysisError(f"power == {power!r}, must be in (0, 1)")
    se = std * np.sqrt(1 / n_control + 1 / n_treatment)
    return float((scipy.stats.norm.ppf(1 - alpha / 2) + scipy.stats.norm.ppf(power)) * se)


def mde_from_pre_period(
    table: pd.DataFrame,
    metrics: Iterable[str | MetricDef] | None = None,
    *,
    segments: tuple[str, ...] = ("all", "new", "old"),
    n_control: int | None = None,
    n_treatment: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    control: str = "control",
    treatment: str = "treatment",
) -> ResultCollection[PowerResult]:
    """MDE of every metric and segment, with baseline and spread from the pre-period.

    Args:
        table: Per-user table with ``pre_<column>`` covariates and ``has_pre``.
        metrics: Metric names or definitions (all defaults if ``None``).
        segments: Segment specs (``analysis.segments``).
        n_control: Planned control users per segment; ``None``: the segment's assigned ones.
        n_treatment: Planned treatment users; ``None``: the segment's assigned ones.
        alpha: Two-sided level.
        power: Target power.
        control: Control arm name (for the assigned counts).
        treatment: Treatment arm name.

    Returns:
        One :class:`PowerResult` per metric and segment; segments where no user has a
        pre-period (e.g. brand-new users) get NaN baseline and MDE.

    Raises:
        SchemaError: The table has no pre-period columns.
    """
    defs = metric_by_name(metrics)
    if HAS_PRE_COLUMN not in table.columns:
        raise SchemaError("table has no 'has_pre' column: it was built without a pre-period")
    records = []
    for name, mask in segment_masks(table, segments):
        sub = table.loc[mask]
        pre = sub.loc[sub[HAS_PRE_COLUMN].to_numpy(dtype=bool)]
        arm = sub["arm"].astype(str)
        n_c = n_control if n_control is not None else int((arm == control).sum())
        n_t = n_treatment if n_treatment is not None else int((arm == treatment).sum())
        for mdef in defs:
            cols = [PRE_PREFIX + c for c in mdef.columns]
            missing = [c for c in cols if c not in table.columns]
            if missing:
                raise SchemaError(f"table lacks pre-period columns {missing}")
            if len(pre) < 2 or min(n_c, n_t) < 1:
                baseline = std = m = float("nan")
            else:
                moments = Moments.from_values(pre[cols].to_numpy(dtype=np.float64))
                value, var, _ = ratio_stats(moments, 0, None if mdef.denom is None else 1)
                baseline, std = float(value), float(np.sqrt(var))
                m = mde(std, n_c, n_t, alpha, power)
            records.append(
                PowerResult(
                    metric=mdef.name,
                    segment=name,
                    n_control=n_c,
                    n_treatment=n_t,
                    baseline=baseline,
                    std=std,
                    alpha=alpha,
                    power=power,
                    mde=m,
                    rel_mde=m / baseline if baseline else float("nan"),
                    n_pre_users=len(pre),
                )
            )
    if not records:
        raise InsufficientDataError("no segment to analyse")
    return ResultCollection(records, f"Minimum detectable effect at power {power}")


__all__ = ["PowerResult", "mde", "mde_from_pre_period", "power_for_effect"]
