"""Multiple-testing corrections across metrics and segments: Holm and Benjamini-Hochberg.

Holm (1979) step-down, family-wise error rate: sort ``p_(1) <= .. <= p_(m)``,
``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.

Benjamini-Hochberg (1995) step-up, false discovery rate:
``p~_(i) = min_{j >= i} min(1, m p_(j) / j)``.

Both return adjusted p-values in the input order; ``reject = p~ <= alpha``. NaN p-values
(comparisons that could not be computed) are left out of the family and stay NaN.

References:
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand. J.
    Statist. 6, 65-70.
    Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57,
    289-300.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError

Correction = Literal["holm", "bh", "none"]


def holm(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Holm step-down adjusted p-values (family-wise error rate).

    Example:
        >>> holm([0.01, 0.04, 0.03]).tolist()
        [0.03, 0.06, 0.06]
    """
    p, ok = _prepare(pvalues)
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        scaled = np.minimum(1.0, (m - np.arange(m)) * q[order])
        adj = np.empty(m)
        adj[order] = np.maximum.accumulate(scaled)
        out[ok] = adj
    return out


def benjamini_hochberg(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate).

    Example:
        >>> benjamini_hochberg([0.01, 0.04, 0.03]).tolist()
        [0.03, 0.04, 0.04]
    """
    p, ok = _prepare(pvalues)
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        scaled = q[order] * m / np.arange(1, m + 1)
        adj = np.empty(m)
        adj[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
        out[ok] = adj
    return out


def adjust_pvalues(pvalues: ArrayLike, method: Correction) -> NDArray[np.float64]:
    """Adjusted p-values by ``method`` (``"holm"``, ``"bh"`` or ``"none"``)."""
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "none":
        return _prepare(pvalues)[0].copy()
    raise AnalysisError(f"method == {method!r}, must be 'holm', 'bh' or 'none'")


def _prepare(pvalues: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        bad = p[ok][(p[ok] < 0) | (p[ok] > 1)][0]
        raise AnalysisError(f"pvalues contain {bad!r}, must be in [0, 1]")
    return p, ok


__all__ = ["Correction", "adjust_pvalues", "benjamini_hochberg", "holm"]
