"""Vectorised bootstrap of column means, the engine behind every OPE interval.

Every estimator in this package is a smooth function of the means of a few per-round (or
per-session) columns: IPS is ``mean(w r)``, SNIPS is ``mean(w r) / mean(w)``, SNDR is
``mean(q_pi) + mean(w (r - q)) / mean(w)``. A bootstrap resample of the rounds is therefore
a vector of resampling counts ``c`` (how often each round was drawn), and the resampled
column means are ``c @ columns / n_rounds``: one matrix product per chunk of resamples
instead of a Python loop over resamples. Self-normalised estimators are re-normalised in
every resample (their ratio is recomputed), which the per-round-reward shortcut of Open
Bandit Pipeline does not do.

Two resampling schemes:

* ``"multinomial"`` (default): the ordinary nonparametric bootstrap (Efron 1979). Each
  resample draws ``n_rounds`` indices uniformly with replacement; their counts come from
  one ``bincount`` over a chunk of resamples at a time.
* ``"poisson"``: each round gets an independent Poisson(1) count (Hanley and MacGibbon
  2006; Chamandy et al. 2012); means are divided by the resample's total count.

Memory is bounded by ``chunk_size x n_rounds`` counts, never ``n_bootstrap_samples x
n_rounds``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError
from analysis.ope._checks import check_alpha, check_positive_int
from analysis.ope.diagnostics import OverlapDiagnostics
from analysis.ope.results import Level, OPEEstimate

BootstrapMethod = Literal["multinomial", "poisson"]
RandomState = int | np.random.Generator | np.random.SeedSequence | None

#: Resampling counts held in memory at once (entries of the chunk x n_rounds matrix).
DEFAULT_MAX_CHUNK_ENTRIES = 2_000_000


def bootstrap_column_means(
    columns: NDArray[np.float64],
    n_bootstrap_samples: int,
    random_state: RandomState = None,
    *,
    method: BootstrapMethod = "multinomial",
    max_chunk_entries: int = DEFAULT_MAX_CHUNK_ENTRIES,
) -> NDArray[np.float64]:
    """Column means of ``n_bootstrap_samples`` bootstrap resamples of the rows of ``columns``.

    Args:
        columns: Shape ``(n_rounds, n_columns)``; one row per resampling unit (a round, or
            a session for session-level estimators).
        n_bootstrap_samples: Number of resamples.
        random_state: Seed or generator, normalised by ``np.random.default_rng``.
        method: ``"multinomial"`` (resample rows with replacement) or ``"poisson"``
            (independent Poisson(1) counts per row).
        max_chunk_entries: Upper bound on the entries of the counts matrix held at once;
            the chunk holds ``max(1, max_chunk_entries // n_rounds)`` resamples. The result
            does not depend on it (the random stream is consumed in the same order).

    Returns:
        Shape ``(n_bootstrap_samples, n_columns)``: the resampled column means.

    Examples:
        >>> cols = np.arange(10.0).reshape(-1, 1)
        >>> means = bootstrap_column_means(cols, 1000, random_state=0)
        >>> means.shape
        (1000, 1)
        >>> bool(abs(means.mean() - 4.5) < 0.1)
        True
    """
    check_positive_int(n_bootstrap_samples, "n_bootstrap_samples")
    check_positive_int(max_chunk_entries, "max_chunk_entries")
    if columns.ndim != 2 or columns.shape[0] == 0:
        raise AnalysisError(
            f"columns must have shape (n_rounds >= 1, n_columns), got {columns.shape}"
        )
    if method not in ("multinomial", "poisson"):
        raise AnalysisError(f"method == {method!r}, must be 'multinomial' or 'poisson'")
    rng = np.random.default_rng(random_state)
    n_rounds, n_columns = columns.shape
    chunk = max(1, min(n_bootstrap_samples, max_chunk_entries // n_rounds))
    out = np.empty((n_bootstrap_samples, n_columns))
    for start in range(0, n_bootstrap_samples, chunk):
        size = min(chunk, n_bootstrap_samples - start)
        if method == "multinomial":
            idx = rng.integers(0, n_rounds, size=(size, n_rounds), dtype=np.int64)
            # Offsetting row r by r * n_rounds turns one flat bincount into per-row counts.
            idx += (np.arange(size, dtype=np.int64) * n_rounds)[:, None]
            counts = np.bincount(idx.ravel(), minlength=size * n_rounds).reshape(size, n_rounds)
            del idx
            totals = np.full(size, float(n_rounds))
        else:
            counts = rng.poisson(1.0, size=(size, n_rounds))
            totals = counts.sum(axis=1).astype(np.float64)
            # An all-zero resample (probability e^-n) has no mean; count it as one draw.
            totals[totals == 0.0] = np.nan
        out[start : start + size] = (counts.astype(np.float64) @ columns) / totals[:, None]
    return out


def percentile_interval(samples: NDArray[np.float64], alpha: float) -> tuple[float, float]:
    """Percentile bootstrap interval ``(q_{alpha/2}, q_{1-alpha/2})`` of ``samples``.

    NaN resamples (an undefined ratio, e.g. all resampled weights zero) are ignored.
    """
    check_alpha(alpha)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def bootstrap_interval(
    columns: NDArray[np.float64],
    combine: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    *,
    alpha: float = 0.05,
    n_bootstrap_samples: int = 100,
    random_state: RandomState = None,
    method: BootstrapMethod = "multinomial",
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``combine(column means)``.

    Args:
        columns: Shape ``(n_rounds, n_columns)``.
        combine: Maps column means of shape ``(..., n_columns)`` to estimates ``(...)``.
        alpha: Significance level; the interval has coverage ``1 - alpha``.
        n_bootstrap_samples: Number of resamples.
        random_state: Seed or generator.
        method: Resampling scheme, see :func:`bootstrap_column_means`.

    Returns:
        ``(ci_lower, ci_upper)``.
    """
    check_alpha(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = bootstrap_column_means(columns, n_bootstrap_samples, random_state, method=method)
        estimates = combine(means)
    return percentile_interval(estimates, alpha)


def estimate_with_interval(
    estimator: str,
    estimate: float,
    columns: NDArray[np.float64],
    combine: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    *,
    diagnostics: OverlapDiagnostics,
    level: Level,
    alpha: float,
    n_bootstrap_samples: int,
    random_state: RandomState,
    method: BootstrapMethod,
    reward_name: str,
    cohort: str,
) -> OPEEstimate:
    """An estimate with its percentile bootstrap interval of ``combine(column means)``.

    The one place where round-level and session-level estimators turn their columns into
    an :class:`~analysis.ope.results.OPEEstimate`.
    """
    low, high = bootstrap_interval(
        columns,
        combine,
        alpha=alpha,
        n_bootstrap_samples=n_bootstrap_samples,
        random_state=random_state,
        method=method,
    )
    return OPEEstimate(
        estimator=estimator,
        estimate=estimate,
        ci_lower=low,
        ci_upper=high,
        alpha=alpha,
        n_bootstrap_samples=n_bootstrap_samples,
        diagnostics=diagnostics,
        reward=reward_name,
        level=level,
        cohort=cohort,
        random_state=random_state if isinstance(random_state, int) else None,
    )
