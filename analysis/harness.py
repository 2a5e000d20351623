"""Simulation harness: A/A re-randomisation and known injected effects.

Given a fixed per-user table (one experiment's users with their metrics), re-draw the
assignment ``n_rounds`` times:

* **A/A**: no effect; the share of rounds with ``p < alpha`` is the false-positive rate,
  which must fall inside the exact binomial acceptance band of ``Binomial(n_rounds,
  alpha)``;
* **known effect**: multiply the treatment users' numerator by ``1 + rel_effect`` (so the
  true relative lift of every metric, ratio metrics included, is exactly ``rel_effect``
  and the true absolute lift is ``rel_effect`` times the all-user value); report the
  coverage of both intervals and the power.

All rounds are analysed at once: the per-arm sums and cross-products of every round are
one matrix product ``A @ [X, X_i X_j]`` with the ``(n_rounds, n_users)`` assignment
matrix ``A``; CUPED and Welch then run vectorised over rounds (``analysis.cuped``,
``analysis.ttest``), the same code that analyses a real experiment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import NDArray

from analysis.abtest import cuped_covariates, needed_columns
from analysis.cuped import cuped_stats
from analysis.errors import AnalysisError
from analysis.moments import Moments
from analysis.results import ResultCollection
from analysis.schema import MetricDef, metric_by_name
from analysis.ttest import RelCI, welch_from_stats

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class HarnessResult:
    """Monte-Carlo operating characteristics of one metric.

    Attributes:
        metric: Metric name.
        kind: ``"aa"`` (no effect) or ``"effect"`` (known injected effect).
        cuped: Whether CUPED was used.
        n_rounds: Re-randomisations.
        n_users: Users in the table.
        alpha: Test level.
        rel_effect: Injected relative effect (0 for A/A).
        rejection_rate: Share of rounds with ``pvalue < alpha`` (FPR for A/A, else power).
        rejection_band_lower: Lower end of the 99% binomial acceptance band of ``alpha``.
        rejection_band_upper: Upper end of that band.
        coverage: Share of rounds whose absolute interval covers the true effect.
        rel_coverage: Share whose relative interval covers ``rel_effect``.
        coverage_band_lower: Lower end of the 99% band of ``1 - alpha``.
        coverage_band_upper: Upper end.
        mean_var_reduction: Mean CUPED variance reduction over rounds.
        seed: Root seed of the re-randomisations (``None`` if a generator was passed).
    """

    metric: str
    kind: str
    cuped: bool
    n_rounds: int
    n_users: int
    alpha: float
    rel_effect: float
    rejection_rate: float
    rejection_band_lower: float
    rejection_band_upper: float
    coverage: float
    rel_coverage: float
    coverage_band_lower: float
    coverage_band_upper: float
    mean_var_reduction: float
    seed: int | None

    @property
    def fpr_inside_band(self) -> bool:
        """A/A: the false-positive rate is inside its band."""
        return self.rejection_band_lower <= self.rejection_rate <= self.rejection_band_upper

    @property
    def coverage_inside_band(self) -> bool:
        """The absolute-interval coverage is inside its band."""
        return self.coverage_band_lower <= self.coverage <= self.coverage_band_upper


def binomial_band(n: int, p: float, level: float = 0.99) -> tuple[float, float]:
    """Exact two-sided acceptance band of a Binomial(n, p) proportion at ``level``.

    Example:
        >>> binomial_band(2000, 0.05)
        (0.0375, 0.0635)
    """
    lo = scipy.stats.binom.ppf((1 - level) / 2, n, p) / n
    hi = scipy.stats.binom.ppf(1 - (1 - level) / 2, n, p) / n
    return float(lo), float(hi)


def rerandomise(
    table: pd.DataFrame,
    metrics: Iterable[str | MetricDef] | None = None,
    *,
    n_rounds: int = 2000,
    rel_effect: float = 0.0,
    cuped: bool = True,
    alpha: float = 0.05,
    treatment_share: float = 0.5,
    rel_ci: RelCI = "log_delta",
    rng: int | np.random.Generator | np.random.SeedSequence | None = None,
    chunk: int = 250,
) -> ResultCollection[HarnessResult]:
    """A/A (``rel_effect == 0``) or known-effect re-randomisation of a per-user table.

    Args:
        table: Per-user table (its ``arm`` column is ignored: arms are re-drawn).
        metrics: Metric names or definitions (all defaults if ``None``).
        n_rounds: Re-randomisations (>= 100 for a meaningful band).
        rel_effect: Relative effect injected into the treatment numerators.
        cuped: Use the table's pre-period covariates.
        alpha: Test level.
        treatment_share: Probability that a user is drawn into treatment.
        rel_ci: Relative interval method.
        rng: Seed or generator of the re-randomisations.
        chunk: Rounds per matrix product (memory: ``chunk x n_users`` floats).

    Returns:
        One :class:`HarnessResult` per metric.
    """
    if n_rounds < 1:
        raise AnalysisError(f"n_rounds == {n_rounds}, must be >= 1")
    if not 0 < treatment_share < 1:
        raise AnalysisError(f"treatment_share == {treatment_share}, must be in (0, 1)")
    if rel_effect <= -1:
        raise AnalysisError(f"rel_effect == {rel_effect}, must be > -1")
    seed = rng if isinstance(rng, int) else None
    gen = np.random.default_rng(rng)
    defs = metric_by_name(metrics)
    cols = needed_columns(defs, table, cuped)
    col_index = {c: i for i, c in enumerate(cols)}
    x = np.column_stack([table[c].to_numpy(dtype=np.float64) for c in cols])
    n, m = x.shape
    mu = x.mean(axis=0)
    xc = x - mu  # centred so the sums-of-products formula loses no precision
    iu, ju = np.triu_indices(m)
    prods = xc[:, iu] * xc[:, ju]
    total_s, total_p = xc.sum(axis=0), prods.sum(axis=0)
    pooled_all = Moments.from_values(x)

    sums_t = np.empty((n_rounds, m))
    cross_t = np.empty((n_rounds, iu.size))
    count_t = np.empty(n_rounds)
    for start in range(0, n_rounds, chunk):
        stop = min(start + chunk, n_rounds)
        a = (gen.random((stop - start, n)) < treatment_share).astype(np.float64)
        sums_t[start:stop] = a @ xc
        cross_t[start:stop] = a @ prods
        count_t[start:stop] = a.sum(axis=1)

    def full(cross: FloatArray) -> FloatArray:
        out = np.empty((cross.shape[0], m, m))
        out[:, iu, ju] = cross
        out[:, ju, iu] = cross
        return out

    t_mom = Moments.from_sums(count_t, sums_t, full(cross_t))
    c_mom = Moments.from_sums(n - count_t, total_s - sums_t, full(total_p - cross_t))
    records = []
    for mdef in defs:
        numer = col_index[mdef.numer]
        denom = None if mdef.denom is None else col_index[mdef.denom]
        scale = np.ones(m)
        scale[numer] = 1.0 + rel_effect
        treat = Moments(t_mom.count, (t_mom.mean + mu) * scale, t_mom.cov * np.outer(scale, scale))
        ctrl = Moments(c_mom.count, c_mom.mean + mu, c_mom.cov)
        covs, _ = cuped_covariates(mdef, col_index, pooled_all, col_index.get("has_pre"), cuped)
        s = cuped_stats(ctrl, treat, numer, denom, covs)
        w = welch_from_stats(
            s.mean_c, s.var_c, s.n_c, s.mean_t, s.var_t, s.n_t, alpha=alpha, rel_ci=rel_ci
        )
        base = float(pooled_all.mean[numer] / (1.0 if denom is None else pooled_all.mean[denom]))
        true_abs = rel_effect * base
        covered = (w.effect_size_ci_lower <= true_abs) & (true_abs <= w.effect_size_ci_upper)
        rel_cov = (w.rel_effect_size_ci_lower <= rel_effect) & (
            rel_effect <= w.rel_effect_size_ci_upper
        )
        rb = binomial_band(n_rounds, alpha)
        cb = binomial_band(n_rounds, 1 - alpha)
        records.append(
            HarnessResult(
                metric=mdef.name,
                kind="aa" if rel_effect == 0 else "effect",
                cuped=bool(covs),
                n_rounds=n_rounds,
                n_users=n,
                alpha=alpha,
                rel_effect=rel_effect,
                rejection_rate=float(np.mean(w.pvalue < alpha)),
                rejection_band_lower=rb[0],
                rejection_band_upper=rb[1],
                coverage=float(np.mean(covered)),
                rel_coverage=float(np.mean(rel_cov)),
                coverage_band_lower=cb[0],
                coverage_band_upper=cb[1],
                mean_var_reduction=float(np.mean(s.var_reduction)),
                seed=seed,
            )
        )
    kind = "A/A" if rel_effect == 0 else f"injected effect {rel_effect:+.1%}"
    return ResultCollection(records, f"Re-randomisation harness ({kind}, {n_rounds} rounds)")


__all__ = ["HarnessResult", "binomial_band", "rerandomise"]
