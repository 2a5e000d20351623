"""CUPED: variance reduction with pre-experiment covariates (Deng et al. 2013).

For a metric ``Y`` (a mean, or a ratio linearised by the delta method) and covariate
means ``X = (X_1 .. X_k)`` that the treatment cannot affect (the same metric in the
pre-period)::

    theta = Var(X)^{-1} Cov(X, Y)                      (on both arms pooled)
    Y_cv  = Y - theta^T (X_arm - X_pooled)
    v_cv  = v_Y - 2 theta^T c_XY + theta^T V_X theta   (per arm, per user)

``theta`` comes from both arms pooled, as in tea-tasting (``total = control + treatment``),
so it is the same for both arms and the adjusted difference stays unbiased; centring at the
pooled covariate mean keeps each arm's adjusted mean on the metric's own scale. With one
covariate this is tea-tasting's ``RatioOfMeans`` with ``numer_covariate``; with several it
is the multi-covariate form of Deng et al. section 3.3.

Users with no pre-period (new users) are not dropped and not silently given NaN: the
caller (``analysis.abtest``) gives them covariate 0 plus a ``has_pre`` indicator column,
which is equivalent to a separate intercept for them, and says so in the result's note.
A covariate with zero variance gets ``theta = 0`` (pseudo-inverse), so CUPED then does
nothing rather than fail.

References:
    Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). Improving the Sensitivity of Online
    Controlled Experiments by Utilizing Pre-Experiment Data. WSDM 2013.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError
from analysis.moments import Moments
from analysis.ratio import linear_gradient, metric_value, quad_form

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ArmStats:
    """Per-arm inputs of Welch's test after (optional) CUPED, any leading shape.

    Attributes:
        mean_c: Control value (adjusted when covariates are used).
        var_c: Control per-user variance of the (linearised, adjusted) metric.
        n_c: Control count.
        mean_t: Treatment value.
        var_t: Treatment per-user variance.
        n_t: Treatment count.
        theta: CUPED coefficients, shape ``(..., k)`` (``k = 0`` without covariates).
        var_reduction: ``1 - se_cv^2 / se^2``: the share of the difference's variance removed.
    """

    mean_c: FloatArray
    var_c: FloatArray
    n_c: FloatArray
    mean_t: FloatArray
    var_t: FloatArray
    n_t: FloatArray
    theta: FloatArray
    var_reduction: FloatArray


def cuped_stats(
    control: Moments,
    treatment: Moments,
    numer: int,
    denom: int | None = None,
    covariates: Sequence[int] = (),
) -> ArmStats:
    """Adjusted per-arm statistics of a metric with CUPED covariates.

    Args:
        control: Moments of the control arm's per-user columns.
        treatment: Moments of the treatment arm's per-user columns (same columns).
        numer: Column index of the metric's numerator (or value).
        denom: Column index of its denominator; ``None`` for a simple mean.
        covariates: Column indices of covariates (simple means); empty for no CUPED.

    Returns:
        The statistics to feed :func:`analysis.ttest.welch_from_stats`.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2, 500))
        >>> y = x + 0.1 * rng.normal(size=(2, 500))
        >>> c = Moments.from_values(np.c_[y[0], x[0]])
        >>> t = Moments.from_values(np.c_[y[1], x[1]])
        >>> bool(cuped_stats(c, t, 0, None, [1]).var_reduction > 0.9)
        True
    """
    if control.mean.shape[-1] != treatment.mean.shape[-1]:
        raise AnalysisError(
            f"control has {control.mean.shape[-1]} columns and treatment "
            f"{treatment.mean.shape[-1]}; must be equal"
        )
    cov_idx = np.asarray(list(covariates), dtype=np.intp)
    if numer in cov_idx or (denom is not None and denom in cov_idx):
        raise AnalysisError(f"covariates == {list(covariates)} include the metric's own column")
    g_c = linear_gradient(control, numer, denom)
    g_t = linear_gradient(treatment, numer, denom)
    f_c = metric_value(control, numer, denom)
    f_t = metric_value(treatment, numer, denom)
    v_c = quad_form(control.cov, g_c, g_c)
    v_t = quad_form(treatment.cov, g_t, g_t)
    lead = np.shape(f_c)
    if cov_idx.size == 0:
        return ArmStats(
            f_c, v_c, control.count, f_t, v_t, treatment.count, np.zeros((*lead, 0)), np.zeros(lead)
        )

    pooled = control + treatment
    g_p = linear_gradient(pooled, numer, denom)
    s_xx = pooled.cov[..., cov_idx[:, None], cov_idx[None, :]]
    c_xy = np.einsum("...ij,...j->...i", pooled.cov, g_p)[..., cov_idx]
    # Pseudo-inverse: a constant covariate (e.g. nobody has a pre-period) gets theta = 0.
    theta = np.einsum("...ij,...j->...i", np.linalg.pinv(s_xx), np.nan_to_num(c_xy))
    x_p = pooled.mean[..., cov_idx]

    def adjust(
        m: Moments, f: FloatArray, g: FloatArray, v: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        x = m.mean[..., cov_idx]
        mean = f - np.einsum("...i,...i->...", theta, x - x_p)
        c = np.einsum("...ij,...j->...i", m.cov, g)[..., cov_idx]
        s = m.cov[..., cov_idx[:, None], cov_idx[None, :]]
        var = v - 2 * np.einsum("...i,...i->...", theta, c) + quad_form(s, theta, theta)
        # Rounding can push an almost perfectly explained variance a hair below zero.
        return mean, np.maximum(var, 0.0)

    m_c, a_c = adjust(control, f_c, g_c, v_c)
    m_t, a_t = adjust(treatment, f_t, g_t, v_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        before = v_c / control.count + v_t / treatment.count
        after = a_c / control.count + a_t / treatment.count
        reduction = np.where(before > 0, 1.0 - after / before, 0.0)
    return ArmStats(m_c, a_c, control.count, m_t, a_t, treatment.count, theta, reduction)


__all__ = ["ArmStats", "cuped_stats"]
