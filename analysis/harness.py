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
from analysis.group_sequential import DEFAULT_N_DRAWS, SpendingFunction, check_spending
from analysis.look_covariance import (
    log_ratio_correlation,
    look_covariance,
    look_covariance_columns,
)
from analysis.metrics import DailyTable
from analysis.moments import Moments
from analysis.results import ResultCollection
from analysis.schema import MetricDef, metric_by_name
from analysis.sequential import calendar_fraction, group_sequential_relative, sequential_relative
from analysis.ttest import RelCI, WelchArrays, welch_from_stats

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
        (0.038, 0.063)
    """
    lo = scipy.stats.binom.ppf((1 - level) / 2, n, p) / n
    hi = scipy.stats.binom.ppf(1 - (1 - level) / 2, n, p) / n
    return float(lo), float(hi)


@dataclass(frozen=True)
class RoundStats:
    """Per-round outputs of one metric over many assignments (arrays of length n_rounds).

    Attributes:
        welch: Welch outputs of every round.
        var_reduction: CUPED variance reduction of every round.
        true_effect: The true absolute effect (``rel_effect`` times the all-user value).
        cuped: Whether CUPED covariates were used.
    """

    welch: WelchArrays
    var_reduction: FloatArray
    true_effect: float
    cuped: bool


def round_statistics(
    table: pd.DataFrame,
    metrics: Iterable[str | MetricDef] | None,
    assignments: Iterable[NDArray[np.bool_]],
    *,
    rel_effect: float = 0.0,
    cuped: bool = True,
    alpha: float = 0.05,
    rel_ci: RelCI = "log_delta",
) -> dict[str, RoundStats]:
    """Analyse a per-user table under many assignments at once.

    Args:
        table: Per-user table (its ``arm`` column is ignored).
        metrics: Metric names or definitions (all defaults if ``None``).
        assignments: Chunks of ``(rounds, n_users)`` boolean treatment indicators.
        rel_effect: Relative effect injected into the treatment numerators.
        cuped: Use the table's pre-period covariates.
        alpha: Test level.
        rel_ci: Relative interval method.

    Returns:
        Metric name -> its per-round statistics.
    """
    if rel_effect <= -1:
        raise AnalysisError(f"rel_effect == {rel_effect}, must be > -1")
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

    sums, cross, counts = [], [], []
    for chunk in assignments:
        a = np.asarray(chunk, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != n:
            raise AnalysisError(f"assignments chunk has shape {a.shape}, must be (rounds, {n})")
        sums.append(a @ xc)
        cross.append(a @ prods)
        counts.append(a.sum(axis=1))
    if not sums:
        raise AnalysisError("assignments is empty; need at least one round")
    sums_t, cross_t, count_t = np.concatenate(sums), np.concatenate(cross), np.concatenate(counts)

    def full(c: FloatArray) -> FloatArray:
        out = np.empty((c.shape[0], m, m))
        out[:, iu, ju] = c
        out[:, ju, iu] = c
        return out

    t_mom = Moments.from_sums(count_t, sums_t, full(cross_t))
    c_mom = Moments.from_sums(n - count_t, total_s - sums_t, full(total_p - cross_t))
    out: dict[str, RoundStats] = {}
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
        out[mdef.name] = RoundStats(w, s.var_reduction, rel_effect * base, bool(covs))
    return out


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
    seed = rng if isinstance(rng, int) else None
    gen = np.random.default_rng(rng)
    n = len(table)
    chunks = (
        gen.random((min(chunk, n_rounds - start), n)) < treatment_share
        for start in range(0, n_rounds, chunk)
    )
    stats = round_statistics(
        table, metrics, chunks, rel_effect=rel_effect, cuped=cuped, alpha=alpha, rel_ci=rel_ci
    )
    rb = binomial_band(n_rounds, alpha)
    cb = binomial_band(n_rounds, 1 - alpha)
    records = []
    for name, st in stats.items():
        w, true_abs = st.welch, st.true_effect
        covered = (w.effect_size_ci_lower <= true_abs) & (true_abs <= w.effect_size_ci_upper)
        rel_cov = (w.rel_effect_size_ci_lower <= rel_effect) & (
            rel_effect <= w.rel_effect_size_ci_upper
        )
        records.append(
            HarnessResult(
                metric=name,
                kind="aa" if rel_effect == 0 else "effect",
                cuped=st.cuped,
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
                mean_var_reduction=float(np.mean(st.var_reduction)),
                seed=seed,
            )
        )
    kind = "A/A" if rel_effect == 0 else f"injected effect {rel_effect:+.1%}"
    return ResultCollection(records, f"Re-randomisation harness ({kind}, {n_rounds} rounds)")


@dataclass(frozen=True)
class PeekingResult:
    """A/A false-positive rate when looking every day: naive, always-valid, group-sequential.

    Attributes:
        metric: Metric name (a per-user count, cumulated daily).
        n_rounds: Re-randomisations.
        n_looks: Days looked at.
        alpha: Level.
        rel_tau: Mixing scale of the mSPRT.
        naive_fpr: Share of rounds where the fixed-horizon Welch p-value fell below
            ``alpha`` on at least one day (stopping at the first "significant" look).
        sequential_fpr: The same for the always-valid p-value.
        final_look_fpr: Share of rounds significant at the last day only (one look).
        band_lower: Lower end of the 99% binomial band of ``alpha``.
        band_upper: Upper end.
        seed: Root seed (``None`` if a generator was passed).
        gst_fpr: Share of rounds where the group-sequential test (Lan-DeMets spending by
            calendar fraction, each round's own estimated look correlation) rejected at
            some look.
        spending: Spending function of the group-sequential test.
    """

    metric: str
    n_rounds: int
    n_looks: int
    alpha: float
    rel_tau: float
    naive_fpr: float
    sequential_fpr: float
    final_look_fpr: float
    band_lower: float
    band_upper: float
    seed: int | None
    gst_fpr: float = float("nan")
    spending: str = "obrien_fleming"


def aa_peeking(
    daily: DailyTable,
    metric: str,
    *,
    n_rounds: int = 2000,
    alpha: float = 0.05,
    rel_tau: float = 0.05,
    treatment_share: float = 0.5,
    spending: SpendingFunction = "obrien_fleming",
    n_draws: int = DEFAULT_N_DRAWS,
    rng: int | np.random.Generator | np.random.SeedSequence | None = None,
    chunk: int = 250,
) -> PeekingResult:
    """Daily-peeking A/A: re-randomise users, look every day at the cumulative metric.

    Uses the same Welch, mSPRT and group-sequential code as
    :func:`analysis.sequential.monitor`, vectorised over rounds (one matrix product per
    chunk of rounds). The group-sequential test of each round uses that round's own
    estimated look correlation (:mod:`analysis.look_covariance`: the per-arm sums are
    ``assignment @ look_covariance_columns``), so each round is analysed exactly as
    ``monitor`` would analyse it.

    Args:
        daily: Per-user daily counts.
        metric: A count column of ``daily`` (e.g. ``"active_days"``).
        n_rounds: Re-randomisations.
        alpha: Level.
        rel_tau: Mixing scale of the mSPRT (relative lift).
        treatment_share: Probability of treatment.
        spending: Spending function of the group-sequential test.
        n_draws: Monte-Carlo paths of each round's boundary computation.
        rng: Seed or generator.
        chunk: Rounds per matrix product.

    Returns:
        The false-positive rates.
    """
    if n_rounds < 1:
        raise AnalysisError(f"n_rounds == {n_rounds}, must be >= 1")
    check_spending(spending)
    seed = rng if isinstance(rng, int) else None
    gen = np.random.default_rng(rng)
    cum = daily.cumulative(metric)
    reg = daily.users["registration_day"].to_numpy(dtype=np.int64)
    present = (reg[:, None] <= daily.days[None, :]).astype(np.float64)
    n_tot = present.sum(axis=0)
    mu = (cum * present).sum(axis=0) / np.maximum(n_tot, 1)
    cc = (cum - mu) * present  # centred among present users; absent users stay 0
    s1_tot, s2_tot = cc.sum(axis=0), (cc**2).sum(axis=0)
    look_columns = look_covariance_columns(cum, present.astype(bool))
    look_columns_tot = look_columns.sum(axis=0)
    n, n_days = cum.shape
    naive_any, seq_any, gst_any, final = [], [], [], []
    for start in range(0, n_rounds, chunk):
        a = (gen.random((min(chunk, n_rounds - start), n)) < treatment_share).astype(np.float64)
        nt = a @ present
        s1 = a @ cc
        s2 = a @ (cc**2)
        nc = n_tot - nt
        with np.errstate(divide="ignore", invalid="ignore"):
            mt = s1 / nt
            mc = (s1_tot - s1) / nc
            vt = (s2 - nt * mt**2) / (nt - 1)
            vc = (s2_tot - s2 - nc * mc**2) / (nc - 1)
        mt, mc = mt + mu, mc + mu
        looks = np.all((nt >= 2) & (nc >= 2), axis=0)
        w = welch_from_stats(
            mc[:, looks],
            vc[:, looks],
            nc[:, looks],
            mt[:, looks],
            vt[:, looks],
            nt[:, looks],
            alpha=alpha,
        )
        p_seq, _, _ = sequential_relative(
            mc[:, looks],
            vc[:, looks],
            nc[:, looks],
            mt[:, looks],
            vt[:, looks],
            nt[:, looks],
            rel_tau,
            alpha,
        )
        sums_t = a @ look_columns
        corr = log_ratio_correlation(
            look_covariance(look_columns_tot - sums_t, n_days),
            mc,
            look_covariance(sums_t, n_days),
            mt,
        )[:, looks][:, :, looks]
        _, gst_reject, _, _ = group_sequential_relative(
            mc[:, looks],
            vc[:, looks],
            nc[:, looks],
            mt[:, looks],
            vt[:, looks],
            nt[:, looks],
            corr,
            calendar_fraction(daily.days[looks] - daily.days[0], n_days),
            alpha,
            spending,
            n_draws=n_draws,
        )
        naive_any.append(np.any(w.pvalue < alpha, axis=1))
        seq_any.append(p_seq[:, -1] < alpha)
        gst_any.append(gst_reject[:, -1])
        final.append(w.pvalue[:, -1] < alpha)
    band = binomial_band(n_rounds, alpha)
    return PeekingResult(
        metric=metric,
        n_rounds=n_rounds,
        n_looks=int(looks.sum()),
        alpha=alpha,
        rel_tau=rel_tau,
        naive_fpr=float(np.mean(np.concatenate(naive_any))),
        sequential_fpr=float(np.mean(np.concatenate(seq_any))),
        final_look_fpr=float(np.mean(np.concatenate(final))),
        band_lower=band[0],
        band_upper=band[1],
        seed=seed,
        gst_fpr=float(np.mean(np.concatenate(gst_any))),
        spending=spending,
    )


__all__ = [
    "HarnessResult",
    "PeekingResult",
    "RoundStats",
    "aa_peeking",
    "binomial_band",
    "rerandomise",
    "round_statistics",
]
