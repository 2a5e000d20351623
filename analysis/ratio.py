"""Ratio metrics by the delta method: ``R = mean(y) / mean(z)`` per arm.

A ratio of means (duration per session, finishes per impression) has users, not
sessions, as its independent units, so its variance must come from the per-user numerator
and denominator. By the first-order delta method (Deng, Knoblich and Lu 2018), with the
per-user covariance ``S`` of ``(y, z)`` and the gradient
``g = (1 / mean(z), -mean(y) / mean(z)^2)``, the per-user variance of the linearised
ratio is::

    v_R = g^T S g = (S_yy - 2 R S_yz + R^2 S_zz) / mean(z)^2

so ``Var(R) ~ v_R / n``, and Welch's test applies to ``(R, v_R, n)`` per arm. The same
gradients give covariances between a metric and its CUPED covariates
(``g_1^T S g_2``), which is how tea-tasting's ``Aggregates.ratio_var``/``ratio_cov`` work.

References:
    Deng, A., Knoblich, U., Lu, J. (2018). Applying the Delta Method in Metric Analytics:
    A Practical Guide with Novel Ideas. KDD 2018.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from analysis.moments import Moments

FloatArray = NDArray[np.float64]


def linear_gradient(moments: Moments, numer: int, denom: int | None) -> FloatArray:
    """Gradient of ``mean[numer] / mean[denom]`` (or of ``mean[numer]``) w.r.t. the means.

    Args:
        moments: Moments of the per-user columns, leading shape ``(...)``.
        numer: Column index of the numerator (or the value).
        denom: Column index of the denominator, ``None`` for a simple mean.

    Returns:
        Gradient vectors, shape ``(..., m)``.
    """
    grad = np.zeros_like(moments.mean)
    if denom is None:
        grad[..., numer] = 1.0
        return grad
    mz = moments.mean[..., denom]
    with np.errstate(divide="ignore", invalid="ignore"):
        grad[..., numer] = 1.0 / mz
        grad[..., denom] = -moments.mean[..., numer] / mz**2
    return grad


def metric_value(moments: Moments, numer: int, denom: int | None) -> FloatArray:
    """The metric's point value: ``mean[numer]``, or ``mean[numer] / mean[denom]``."""
    if denom is None:
        return np.asarray(moments.mean[..., numer], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(moments.mean[..., numer] / moments.mean[..., denom], dtype=np.float64)


def quad_form(cov: FloatArray, left: FloatArray, right: FloatArray) -> FloatArray:
    """``left^T cov right`` over the trailing axes (per-user covariance of two linear forms)."""
    return np.asarray(np.einsum("...i,...ij,...j->...", left, cov, right), dtype=np.float64)


def ratio_stats(
    moments: Moments, numer: int, denom: int | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Point value, per-user delta-method variance and count of a (ratio) metric.

    Args:
        moments: Moments of the per-user columns of one arm (any leading shape).
        numer: Column index of the numerator.
        denom: Column index of the denominator, ``None`` for a simple mean.

    Returns:
        ``(value, per_user_variance, count)``; ``Var(value) ~ per_user_variance / count``.

    Example:
        >>> import numpy as np
        >>> y = np.array([[2.0, 1.0], [6.0, 2.0], [4.0, 3.0]])
        >>> value, var, n = ratio_stats(Moments.from_values(y), 0, 1)
        >>> float(value), round(float(var), 6)
        (2.0, 1.0)
    """
    grad = linear_gradient(moments, numer, denom)
    return metric_value(moments, numer, denom), quad_form(moments.cov, grad, grad), moments.count


__all__ = ["linear_gradient", "metric_value", "quad_form", "ratio_stats"]
