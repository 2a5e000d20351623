"""The vectorised bootstrap: exact bootstrap moments, reproducibility, chunk independence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.ope import (
    InverseProbabilityWeighting,
    SelfNormalizedInverseProbabilityWeighting,
    bootstrap_column_means,
    bootstrap_interval,
    percentile_interval,
)


def test_multinomial_bootstrap_matches_exact_bootstrap_moments() -> None:
    # Under the nonparametric bootstrap the resampled mean has mean xbar and variance
    # sigma_hat^2 / n with sigma_hat^2 = mean((x - xbar)^2) (exact, no approximation).
    x = np.random.default_rng(1).exponential(size=200)
    n_boot = 20_000
    means = bootstrap_column_means(x[:, None], n_boot, random_state=2)[:, 0]
    exact_sd = np.sqrt(np.mean((x - x.mean()) ** 2) / x.size)
    # Monte-Carlo tolerances: the mean of 20k resamples has sd exact_sd / sqrt(20k); the
    # sample sd has relative sd about 1 / sqrt(2 * 20k) = 0.5% (a bit more for skewed x).
    assert abs(means.mean() - x.mean()) < 5 * exact_sd / np.sqrt(n_boot)
    assert means.std(ddof=1) == pytest.approx(exact_sd, rel=0.03)


def test_poisson_bootstrap_is_centred_with_the_same_spread() -> None:
    x = np.random.default_rng(3).normal(size=300)
    means = bootstrap_column_means(x[:, None], 20_000, random_state=4, method="poisson")[:, 0]
    exact_sd = np.sqrt(np.mean((x - x.mean()) ** 2) / x.size)
    assert abs(means.mean() - x.mean()) < 5 * exact_sd / np.sqrt(20_000)
    # Poisson weights give the same first-order variance (Hanley and MacGibbon 2006).
    assert means.std(ddof=1) == pytest.approx(exact_sd, rel=0.05)


def test_percentile_interval_agrees_with_scipy_bootstrap() -> None:
    # scipy.stats.bootstrap(method="percentile") is an independent implementation; with
    # 20k resamples each the two intervals' ends agree within a few percent of the width.
    x = np.random.default_rng(5).exponential(size=150)
    ours = bootstrap_interval(
        x[:, None], lambda m: m[..., 0], alpha=0.1, n_bootstrap_samples=20_000, random_state=6
    )
    ref = stats.bootstrap(
        (x,), np.mean, confidence_level=0.9, n_resamples=20_000, method="percentile", rng=7
    ).confidence_interval
    width = ref.high - ref.low
    assert ours[0] == pytest.approx(ref.low, abs=0.05 * width)
    assert ours[1] == pytest.approx(ref.high, abs=0.05 * width)


def test_same_seed_same_result_and_chunking_does_not_matter() -> None:
    cols = np.random.default_rng(0).random((1000, 3))
    a = bootstrap_column_means(cols, 37, random_state=11)
    b = bootstrap_column_means(cols, 37, random_state=11, max_chunk_entries=1000)
    c = bootstrap_column_means(cols, 37, random_state=11, max_chunk_entries=7_000)
    d = bootstrap_column_means(cols, 37, random_state=12)
    # Same resamples; only the matrix product's summation order differs with the chunk.
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(a, c, rtol=1e-12)
    assert not np.array_equal(a, d)


def test_self_normalised_interval_is_renormalised_per_resample() -> None:
    # With constant reward 1, SNIPS is exactly 1 in every resample; a shortcut that
    # resamples w r / mean(w) (normalised once) would give an interval of positive width.
    rng = np.random.default_rng(8)
    n = 500
    dist = rng.dirichlet(np.ones(4), size=n)[:, :, None]
    action = rng.integers(0, 4, size=n)
    pscore = np.full(n, 0.25)
    res = SelfNormalizedInverseProbabilityWeighting().estimate_interval(
        np.ones(n), action, pscore, dist, random_state=0, n_bootstrap_samples=200
    )
    assert res.estimate == pytest.approx(1.0)
    assert res.ci_lower == pytest.approx(1.0)
    assert res.ci_upper == pytest.approx(1.0)
    ips = InverseProbabilityWeighting().estimate_interval(
        np.ones(n), action, pscore, dist, random_state=0, n_bootstrap_samples=200
    )
    assert ips.ci_upper - ips.ci_lower > 0.01


def test_percentile_interval_ignores_nan_and_handles_all_nan() -> None:
    assert percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0]), 0.5) == (1.5, 2.5)
    low, high = percentile_interval(np.array([np.nan, np.nan]), 0.05)
    assert np.isnan(low)
    assert np.isnan(high)
