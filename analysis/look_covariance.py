"""Covariance of the daily looks of a cumulative metric, estimated from per-user data.

A group-sequential test needs the joint distribution of its look statistics. For a
cumulative metric of a fixed set of users, the looks are **not** a process with independent
increments (a user active early stays active), so their correlation is estimated from the
users themselves rather than assumed to be ``sqrt(I_j / I_k)``.

Within one arm, the mean at look ``k`` is over the users present at ``k`` (registered by
that day): ``m_k = (1 / n_k) sum_{i in P_k} x_ik``. Presence is monotone, ``P_j`` is a
subset of ``P_k`` for ``j <= k``, so only the users present at ``j`` contribute to both
means and::

    Cov(m_j, m_k) = c_jk / n_k,    j <= k,

where ``c_jk`` is the sample covariance (``ddof = 1``), over the users present at ``j``, of
``(x_j, x_k)``; at ``j = k`` it is the usual ``v_k / n_k``. Ratio metrics use the
linearised per-user values of the delta method, whose covariance is the delta one.

For the log ratio ``d_k = log(m_t,k / m_c,k)`` (delta method, arms independent)::

    Cov(d_j, d_k) = Cov_c(m_j, m_k) / (m_c,j m_c,k) + Cov_t(m_j, m_k) / (m_t,j m_t,k)

and the correlation is that covariance scaled by its diagonal.

Every quantity comes from per-arm sums of per-user columns (:func:`look_covariance_columns`),
so one assignment (``arm_indicator @ columns``) and many re-randomised ones
(``assignment_matrix @ columns``, :func:`analysis.harness.aa_peeking`) use the same
formulas (:func:`look_covariance`).

Reference:
    Jennison, C., Turnbull, B. W. (2000). Group Sequential Methods with Applications to
    Clinical Trials, ch. 11 (correlated and longitudinal looks).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError

FloatArray = NDArray[np.float64]


def look_covariance_columns(values: FloatArray, present: NDArray[np.bool_]) -> FloatArray:
    """Per-user columns whose sums over an arm give the covariance of its look means.

    Columns, with ``(j, k)`` running over ``j <= k`` (``np.triu_indices``): presence at
    each look (``K``), ``P_j x_k`` (``K (K + 1) / 2``) and ``P_j x_j x_k`` (as many).
    Values are centred by each look's mean over the present rows first: the covariance
    does not depend on the centre, and sums of centred products lose no precision.

    Args:
        values: ``(n_users, K)`` per-user value at each look (cumulative metric or
            linearised ratio values).
        present: ``(n_users, K)`` whether the user is present at that look; must be
            monotone (once present, present at every later look).

    Returns:
        ``(n_users, K + K (K + 1))`` columns.

    Example:
        >>> x = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 4.0]])
        >>> p = np.array([[True, True], [True, True], [False, True]])
        >>> look_covariance_columns(x, p).shape
        (3, 8)
    """
    x = np.asarray(values, dtype=np.float64)
    p = np.asarray(present, dtype=bool)
    if x.ndim != 2 or p.shape != x.shape:
        raise AnalysisError(
            f"values has shape {x.shape} and present {p.shape}, must be equal (n_users, K)"
        )
    if np.any(p[:, :-1] & ~p[:, 1:]):
        raise AnalysisError(
            "present is not monotone over the looks, must stay True once True "
            "(a user registered by day j is registered by every later day)"
        )
    n_present = p.sum(axis=0)
    centre = np.where(p, x, 0.0).sum(axis=0) / np.maximum(n_present, 1)
    xc = np.where(p, x - centre, 0.0)
    j, k = np.triu_indices(x.shape[1])
    pj = p[:, j].astype(np.float64)
    return np.column_stack([p.astype(np.float64), pj * xc[:, k], pj * xc[:, j] * xc[:, k]])


def look_covariance(sums: FloatArray, n_looks: int) -> FloatArray:
    """Covariance of an arm's look means from its sums of :func:`look_covariance_columns`.

    Args:
        sums: ``(..., K + K (K + 1))`` column sums over the arm's users.
        n_looks: ``K``.

    Returns:
        ``(..., K, K)`` matrix ``Cov(m_j, m_k) = c_jk / n_max(j,k)``; ``nan`` where fewer
        than 2 users are present at ``min(j, k)``.
    """
    s = np.asarray(sums, dtype=np.float64)
    n_pairs = n_looks * (n_looks + 1) // 2
    if s.shape[-1] != n_looks + 2 * n_pairs:
        raise AnalysisError(
            f"sums has {s.shape[-1]} columns, must be {n_looks + 2 * n_pairs} for "
            f"n_looks == {n_looks} (see look_covariance_columns)"
        )
    j, k = np.triu_indices(n_looks)
    pair = np.empty((n_looks, n_looks), dtype=np.int64)
    pair[j, k] = np.arange(n_pairs)
    count = s[..., :n_looks]
    sum_k_over_j = s[..., n_looks : n_looks + n_pairs]  # sum over P_j of x_k
    sum_jk = s[..., n_looks + n_pairs :]  # sum over P_j of x_j x_k
    sum_j = sum_k_over_j[..., pair[j, j]]  # sum over P_j of x_j
    n_j, n_k = count[..., j], count[..., k]
    with np.errstate(divide="ignore", invalid="ignore"):
        c_jk = (sum_jk - sum_j * sum_k_over_j / n_j) / (n_j - 1)
        upper = np.where(n_j >= 2, c_jk / n_k, np.nan)
    out = np.empty((*s.shape[:-1], n_looks, n_looks))
    out[..., j, k] = upper
    out[..., k, j] = upper
    return out


def log_ratio_correlation(
    cov_control: FloatArray,
    mean_control: FloatArray,
    cov_treatment: FloatArray,
    mean_treatment: FloatArray,
) -> FloatArray:
    """Correlation of the looks' log ratios ``log(m_t / m_c)`` (delta method).

    Looks without information (a mean that is not positive, or a zero or undefined
    variance) are made uncorrelated with the others, so they neither borrow nor lend
    strength; their test statistic is 0 in :mod:`analysis.sequential`.

    Args:
        cov_control: ``(..., K, K)`` covariance of the control look means.
        mean_control: ``(..., K)`` control look means.
        cov_treatment: Treatment counterpart.
        mean_treatment: Treatment counterpart.

    Returns:
        ``(..., K, K)`` correlation matrix.

    Example:
        >>> cov = np.array([[1.0, 1.0], [1.0, 2.0]])
        >>> r = log_ratio_correlation(cov, np.ones(2), cov, np.ones(2))
        >>> round(float(r[0, 1]), 4)
        0.7071
    """
    mc = np.asarray(mean_control, dtype=np.float64)
    mt = np.asarray(mean_treatment, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = np.asarray(cov_control) / (mc[..., :, None] * mc[..., None, :]) + np.asarray(
            cov_treatment
        ) / (mt[..., :, None] * mt[..., None, :])
        sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
        corr = cov / (sd[..., :, None] * sd[..., None, :])
    informative = (mc > 0) & (mt > 0) & np.isfinite(sd) & (sd > 0)
    both = informative[..., :, None] & informative[..., None, :]
    corr = np.where(both & np.isfinite(corr), np.clip(corr, -1.0, 1.0), 0.0)
    eye = np.eye(corr.shape[-1], dtype=bool)
    return np.where(eye, 1.0, corr)


__all__ = ["log_ratio_correlation", "look_covariance", "look_covariance_columns"]
