"""Group-sequential boundaries: Lan-DeMets alpha spending over planned looks.

Why, beside the mSPRT of :mod:`analysis.sequential`: an always-valid test protects
against looking at *any* time, infinitely often, so with a fixed number of planned daily
looks it is conservative (its daily-peeking false-positive rate is far below ``alpha``).
A group-sequential test spends exactly ``alpha`` over the looks that are actually planned
(Jennison & Turnbull 2000), so its false-positive rate under daily peeking is ``alpha``.

**Spending functions** (Lan & DeMets 1983), ``t`` the information or calendar fraction in
``(0, 1]``, ``alpha(1) = alpha``::

    obrien_fleming   alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t))
    pocock           alpha(t) = alpha log(1 + (e - 1) t)
    linear           alpha(t) = alpha t

**Boundaries.** For z statistics ``(Z_1, ..., Z_K)``, standard normal under the null with
a given correlation matrix ``R``, look ``k`` spends ``alpha(t_k) - alpha(t_{k-1})``
(``t_0 = 0``) and its two-sided boundary ``c_k`` solves::

    P(|Z_1| < c_1, ..., |Z_{k-1}| < c_{k-1}, |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1})

so ``P(exists k: |Z_k| >= c_k) = alpha(t_K)``. The probabilities are computed by Monte
Carlo with common random numbers: ``E`` (``n_draws x K`` standard normals from a fixed
seed, so the result is deterministic), ``Z = E chol(R)^T``; among the paths that have not
crossed yet, ``c_k`` is the order statistic of ``|Z_k|`` with exactly
``round(alpha(t_k) n) - round(alpha(t_{k-1}) n)`` paths at or above it (rounding the
cumulative spend, so the counts add up to ``round(alpha(t_K) n)``). No root-finding is
needed, and a look whose spend rounds to zero paths gets an infinite boundary.

Monte-Carlo error: the boundaries cross exactly ``round(alpha n)`` of the ``n`` simulated
paths; the true crossing probability of those boundaries differs from ``alpha`` by about
``sqrt(alpha (1 - alpha) / n)``, i.e. 0.0005 (one standard error) for ``alpha = 0.05`` and
the default ``n = 200,000``, within 1e-3 at two standard errors. A boundary near 2 moves
by about 0.005 (one standard error; measured over seeds for the classical constants).

**Why a general correlation matrix** rather than the Brownian ``R_jk = sqrt(I_j / I_k)``
(:func:`brownian_correlation`): cumulative metrics of the same users do not have
independent increments (a user active early stays active), so the correlation of the
looks is estimated from the data (Jennison & Turnbull 2000, ch. 11, correlated and
longitudinal looks). The boundary at look ``k`` depends only on ``R[:k, :k]``: the
Cholesky factor is lower-triangular and the draws are generated look by look, so the
first ``k`` columns of ``Z`` are the same whatever the later looks are. Computing all
boundaries from the final matrix therefore gives exactly the boundaries an online
computation at each look would have given.

**Repeated confidence intervals** (Jennison & Turnbull 2000, ch. 9): ``d_k -/+ c_k
sqrt(V_k)`` cover the effect simultaneously at every look with probability ``1 -
alpha``.

**Classical designs** for ``K`` equally spaced looks with Brownian correlation: Pocock's
constant boundary ``c_k = C_P`` and O'Brien & Fleming's ``c_k = C_B sqrt(K / k)``, where
``C`` is the ``1 - alpha`` quantile of ``max_k |Z_k|`` (Pocock) or ``max_k |Z_k|
sqrt(k / K)`` (O'Brien-Fleming), again an order statistic of the same draws. They serve
as golden tests against the published tables.

References:
    Lan, K. K. G., DeMets, D. L. (1983). Discrete sequential boundaries for clinical
    trials. Biometrika 70(3).
    Jennison, C., Turnbull, B. W. (2000). Group Sequential Methods with Applications to
    Clinical Trials. Chapman & Hall/CRC (ch. 2 tables, ch. 7 spending, ch. 9 repeated
    confidence intervals, ch. 11 longitudinal data).
    Pocock, S. J. (1977). Group sequential methods in the design and analysis of
    clinical trials. Biometrika 64(2).
    O'Brien, P. C., Fleming, T. R. (1979). A multiple testing procedure for clinical
    trials. Biometrics 35(3).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError

FloatArray = NDArray[np.float64]

SpendingFunction = Literal["obrien_fleming", "pocock", "linear"]
ClassicalDesign = Literal["pocock", "obrien_fleming"]
SPENDING_FUNCTIONS: tuple[str, ...] = get_args(SpendingFunction)
CLASSICAL_DESIGNS: tuple[str, ...] = get_args(ClassicalDesign)

DEFAULT_N_DRAWS = 200_000
# Fixed so that a boundary is a deterministic function of its inputs (Lan & DeMets 1983).
BOUNDARY_SEED = 1983
_CORRELATION_TOL = 1e-8


def check_spending(spending: str, parameter: str = "spending") -> None:
    """Raise :class:`AnalysisError` unless ``spending`` names a spending function.

    Args:
        spending: The name to check.
        parameter: How the caller calls it, for the message.
    """
    if spending not in SPENDING_FUNCTIONS:
        raise AnalysisError(
            f"{parameter} == {spending!r}, must be one of {list(SPENDING_FUNCTIONS)}"
        )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha == {alpha!r}, must be in (0, 1)")


def _check_fraction(fraction: ArrayLike) -> FloatArray:
    t = np.asarray(fraction, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise AnalysisError(f"fraction has shape {t.shape}, must be (n_looks,) with n_looks >= 1")
    if not np.all(np.isfinite(t)) or t[0] <= 0 or t[-1] > 1:
        raise AnalysisError(f"fraction == {t.tolist()}, must lie in (0, 1]")
    if np.any(np.diff(t) <= 0):
        raise AnalysisError(f"fraction == {t.tolist()}, must be strictly increasing")
    return t


def alpha_spent(
    fraction: ArrayLike, alpha: float = 0.05, spending: SpendingFunction = "obrien_fleming"
) -> FloatArray:
    """Cumulative type-I error spent by information or calendar fraction ``t``.

    Args:
        fraction: Fractions ``t`` in ``[0, 1]`` (any shape).
        alpha: Total two-sided level, spent at ``t = 1``.
        spending: ``"obrien_fleming"``, ``"pocock"`` or ``"linear"`` (Lan & DeMets 1983).

    Returns:
        ``alpha(t)``, same shape as ``fraction``.

    Example:
        >>> alpha_spent([0.5, 1.0], 0.05, "linear").tolist()
        [0.025, 0.05]
    """
    _check_alpha(alpha)
    check_spending(spending)
    t = np.asarray(fraction, dtype=np.float64)
    if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(t > 1):
        raise AnalysisError(f"fraction == {t.tolist()}, must lie in [0, 1]")
    if spending == "pocock":
        return alpha * np.log1p((np.e - 1) * t)
    if spending == "linear":
        return alpha * t
    z = scipy.stats.norm.isf(alpha / 2)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 2 * scipy.stats.norm.sf(z / np.sqrt(t)), 0.0)


def brownian_correlation(information: ArrayLike) -> FloatArray:
    """Correlation of the looks of a process with independent increments.

    Args:
        information: ``(K,)`` positive, non-decreasing information at each look.

    Returns:
        ``(K, K)`` matrix ``R_jk = sqrt(I_min(j,k) / I_max(j,k))``.

    Example:
        >>> brownian_correlation([1.0, 4.0]).tolist()
        [[1.0, 0.5], [0.5, 1.0]]
    """
    info = np.asarray(information, dtype=np.float64)
    if info.ndim != 1 or info.size == 0 or np.any(~np.isfinite(info)) or np.any(info <= 0):
        raise AnalysisError(f"information == {info.tolist()}, must be positive and finite")
    if np.any(np.diff(info) < 0):
        raise AnalysisError(f"information == {info.tolist()}, must be non-decreasing")
    lo = np.minimum.outer(info, info)
    hi = np.maximum.outer(info, info)
    return np.sqrt(lo / hi)


def _cholesky(correlation: ArrayLike, n_looks: int) -> FloatArray:
    """Validated lower Cholesky factors, ``(B, K, K)``."""
    r = np.asarray(correlation, dtype=np.float64)
    batch = r[None] if r.ndim == 2 else r
    if batch.ndim != 3 or batch.shape[1:] != (n_looks, n_looks):
        raise AnalysisError(
            f"correlation has shape {r.shape}, must be ({n_looks}, {n_looks}) or "
            f"(B, {n_looks}, {n_looks}) to match the {n_looks} fractions"
        )
    if not np.all(np.isfinite(batch)):
        raise AnalysisError("correlation has non-finite entries, must be finite")
    if np.max(np.abs(batch - batch.transpose(0, 2, 1)), initial=0.0) > _CORRELATION_TOL:
        raise AnalysisError("correlation is not symmetric, must be a correlation matrix")
    diag = np.diagonal(batch, axis1=1, axis2=2)
    if np.max(np.abs(diag - 1), initial=0.0) > _CORRELATION_TOL:
        raise AnalysisError(
            f"correlation has diagonal {diag[0].tolist()}, must be 1 (a correlation matrix)"
        )
    smallest = np.linalg.eigvalsh(batch)[:, 0]
    bad = int(np.argmin(smallest))
    if smallest[bad] < -_CORRELATION_TOL:
        raise AnalysisError(
            f"correlation[{bad}] has smallest eigenvalue {smallest[bad]:.3g}, must be "
            "positive semi-definite (>= 0)"
        )
    # A tiny ridge lets Cholesky factor a singular but valid matrix (two identical looks).
    return np.asarray(np.linalg.cholesky(batch + 1e-10 * np.eye(n_looks)), dtype=np.float64)


def _draws(n_looks: int, n_draws: int, seed: int) -> FloatArray:
    if n_draws < 1000:
        raise AnalysisError(f"n_draws == {n_draws}, must be >= 1000")
    # Look by look, as rows of a (K, n) array: the first k looks' draws do not depend on K.
    return np.random.default_rng(seed).standard_normal((n_looks, n_draws))


def spending_boundaries(
    correlation: ArrayLike,
    fraction: ArrayLike,
    alpha: float = 0.05,
    spending: SpendingFunction = "obrien_fleming",
    *,
    n_draws: int = DEFAULT_N_DRAWS,
    seed: int = BOUNDARY_SEED,
) -> FloatArray:
    """Two-sided Lan-DeMets boundaries for correlated looks, by Monte Carlo.

    Args:
        correlation: ``(K, K)`` correlation of ``(Z_1..Z_K)`` under the null, or a batch
            ``(B, K, K)`` (all share the same draws).
        fraction: ``(K,)`` strictly increasing fractions in ``(0, 1]`` at the looks.
        alpha: Total two-sided level (spent by ``t = 1``).
        spending: Spending function name.
        n_draws: Simulated paths (Monte-Carlo error about ``sqrt(alpha / n_draws)``).
        seed: Seed of the draws; fixed by default so the boundaries are deterministic.

    Returns:
        ``(K,)`` or ``(B, K)`` boundaries ``c_k`` (``inf`` where a look spends nothing).

    Example:
        >>> c = spending_boundaries(brownian_correlation([1.0, 2.0]), [0.5, 1.0], 0.05)
        >>> [round(float(x), 1) for x in c]
        [2.8, 2.0]
    """
    _check_alpha(alpha)
    check_spending(spending)
    t = _check_fraction(fraction)
    return boundaries_from_spending(
        correlation, alpha_spent(t, alpha, spending), n_draws=n_draws, seed=seed
    )


def boundaries_from_spending(
    correlation: ArrayLike,
    cumulative_alpha: ArrayLike,
    *,
    n_draws: int = DEFAULT_N_DRAWS,
    seed: int = BOUNDARY_SEED,
) -> FloatArray:
    """Two-sided boundaries that cross with the given cumulative probabilities, by Monte Carlo.

    The machinery of :func:`spending_boundaries` for any spending (e.g. another package's
    convention); look ``k`` spends ``cumulative_alpha[k] - cumulative_alpha[k - 1]``.

    Args:
        correlation: ``(K, K)`` or ``(B, K, K)`` correlation of the looks under the null.
        cumulative_alpha: ``(K,)`` non-decreasing probabilities in ``[0, 1)`` of having
            crossed by each look.
        n_draws: Simulated paths.
        seed: Seed of the draws.

    Returns:
        ``(K,)`` or ``(B, K)`` boundaries (``inf`` where a look spends no simulated path).
    """
    spent = np.asarray(cumulative_alpha, dtype=np.float64)
    if spent.ndim != 1 or spent.size == 0:
        raise AnalysisError(f"cumulative_alpha has shape {spent.shape}, must be (n_looks,)")
    if not np.all(np.isfinite(spent)) or spent[0] < 0 or spent[-1] >= 1:
        raise AnalysisError(f"cumulative_alpha == {spent.tolist()}, must lie in [0, 1)")
    if np.any(np.diff(spent) < 0):
        raise AnalysisError(f"cumulative_alpha == {spent.tolist()}, must be non-decreasing")
    n_looks = spent.size
    chol = _cholesky(correlation, n_looks)
    draws = _draws(n_looks, n_draws, seed)
    # Rounding the cumulative spend keeps the counts' total at round(alpha(t_K) n).
    counts: NDArray[np.int64] = np.rint(spent * n_draws).astype(np.int64)
    n_cross = np.diff(counts, prepend=np.int64(0))
    out = np.array([_boundaries_of_paths(np.abs(f @ draws), n_cross) for f in chol])
    return out[0] if np.asarray(correlation).ndim == 2 else out


def _boundaries_of_paths(abs_z: FloatArray, n_cross: NDArray[np.int64]) -> FloatArray:
    """Order-statistic boundaries of ``(K, n)`` simulated ``|Z|`` paths, look by look."""
    n_looks, n_draws = abs_z.shape
    out = np.full(n_looks, np.inf)
    alive = np.ones(n_draws, dtype=bool)
    crossed = 0
    for k in range(n_looks):
        m = int(n_cross[k])
        if m == 0:
            continue
        z = abs_z[k]
        # Only the top m live values matter. A normal-tail threshold holding about 1.5
        # times the m sought plus the paths crossed so far leaves at least m live paths
        # above it, so selecting among those is exact and far cheaper than among all;
        # when too few remain (rare), select among all live paths.
        tail = min(1.0, 1.5 * (m + crossed) / n_draws + 50 / n_draws)
        candidates = z[alive & (z >= scipy.stats.norm.isf(tail / 2))]
        if candidates.size < m:
            candidates = z[alive]
        kth = candidates.size - m
        out[k] = np.partition(candidates, kth)[kth]
        alive &= z < out[k]
        crossed += m
    return out


def classical_constant(
    n_looks: int,
    alpha: float = 0.05,
    design: ClassicalDesign = "pocock",
    *,
    n_draws: int = DEFAULT_N_DRAWS,
    seed: int = BOUNDARY_SEED,
) -> float:
    """Constant ``C`` of the classical Pocock or O'Brien-Fleming design, K equal looks.

    Args:
        n_looks: Equally spaced looks ``K``.
        alpha: Two-sided level.
        design: ``"pocock"`` (``c_k = C``) or ``"obrien_fleming"`` (``c_k = C sqrt(K/k)``).
        n_draws: Simulated paths.
        seed: Seed of the draws.

    Returns:
        ``C``: the ``1 - alpha`` quantile of ``max_k |Z_k|`` (Pocock) or of ``max_k |Z_k|
        sqrt(k / K)`` (O'Brien-Fleming) under Brownian correlation.
    """
    _check_alpha(alpha)
    if n_looks < 1:
        raise AnalysisError(f"n_looks == {n_looks}, must be >= 1")
    if design not in CLASSICAL_DESIGNS:
        raise AnalysisError(f"design == {design!r}, must be one of {list(CLASSICAL_DESIGNS)}")
    looks = np.arange(1, n_looks + 1, dtype=np.float64)
    chol = np.linalg.cholesky(brownian_correlation(looks))
    z = np.abs(chol @ _draws(n_looks, n_draws, seed))
    if design == "obrien_fleming":
        z = z * np.sqrt(looks / n_looks)[:, None]
    stat = z.max(axis=0)
    kth = n_draws - int(np.rint(alpha * n_draws))
    return float(np.partition(stat, kth)[kth])


def classical_boundaries(
    n_looks: int,
    alpha: float = 0.05,
    design: ClassicalDesign = "pocock",
    *,
    n_draws: int = DEFAULT_N_DRAWS,
    seed: int = BOUNDARY_SEED,
) -> FloatArray:
    """Boundaries ``(c_1..c_K)`` of the classical design (see :func:`classical_constant`).

    Returns:
        ``(K,)`` boundaries: ``C`` at every look (Pocock) or ``C sqrt(K / k)`` (OBF).
    """
    c = classical_constant(n_looks, alpha, design, n_draws=n_draws, seed=seed)
    looks = np.arange(1, n_looks + 1, dtype=np.float64)
    if design == "pocock":
        return np.full(n_looks, c)
    return c * np.sqrt(n_looks / looks)


def repeated_ci(
    effect: ArrayLike, variance: ArrayLike, boundary: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Repeated confidence intervals ``d_k -/+ c_k sqrt(V_k)`` (Jennison & Turnbull ch. 9).

    Args:
        effect: ``(..., K)`` estimates ``d_k``.
        variance: ``(..., K)`` their variances ``V_k``.
        boundary: ``(..., K)`` boundaries ``c_k`` (``inf`` gives an unbounded interval).

    Returns:
        ``(ci_lower, ci_upper)``, each ``(..., K)``.

    Example:
        >>> lo, hi = repeated_ci([0.1], [0.0025], [2.0])
        >>> [round(float(lo[0]), 6), round(float(hi[0]), 6)]
        [0.0, 0.2]
    """
    d = np.asarray(effect, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    if np.any(v < 0):
        raise AnalysisError("variance must be >= 0")
    half = np.asarray(boundary, dtype=np.float64) * np.sqrt(v)
    return d - half, d + half


def boundary_crossed(
    effect: ArrayLike, variance: ArrayLike, boundary: ArrayLike
) -> NDArray[np.bool_]:
    """Whether ``|d_j| / sqrt(V_j) >= c_j`` at some look ``j <= k``, along the last axis.

    Returns:
        ``(..., K)`` running "rejected by look k" flags.

    Example:
        >>> boundary_crossed([0.0, 0.3, 0.0], [0.01, 0.01, 0.01], [3.0, 2.5, 2.0]).tolist()
        [False, True, True]
    """
    d = np.asarray(effect, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(d) / np.sqrt(v)
    hit = np.nan_to_num(z, nan=0.0) >= np.asarray(boundary, dtype=np.float64)
    return np.logical_or.accumulate(hit, axis=-1)


__all__ = [
    "BOUNDARY_SEED",
    "CLASSICAL_DESIGNS",
    "DEFAULT_N_DRAWS",
    "SPENDING_FUNCTIONS",
    "ClassicalDesign",
    "SpendingFunction",
    "alpha_spent",
    "boundaries_from_spending",
    "boundary_crossed",
    "brownian_correlation",
    "check_spending",
    "classical_boundaries",
    "classical_constant",
    "repeated_ci",
    "spending_boundaries",
]
