"""Covariance of cumulative looks: the sums formula against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.look_covariance import (
    log_ratio_correlation,
    look_covariance,
    look_covariance_columns,
)


def staggered(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, k = 400, 5
    registration = rng.integers(0, k, size=n)
    present = registration[:, None] <= np.arange(k)[None, :]
    # A cumulative count: users keep what they had, so the looks are strongly correlated.
    values = np.cumsum(rng.poisson(1.0 + rng.gamma(1.0, 1.0, size=(n, 1)), size=(n, k)), axis=1)
    return np.where(present, values + 1000.0, 0.0), present


def test_matches_the_direct_formula() -> None:
    x, present = staggered(0)
    k = x.shape[1]
    cov = look_covariance(look_covariance_columns(x, present).sum(axis=0), k)
    for a in range(k):
        for b in range(a, k):
            rows = present[:, a]  # users present at the earlier look
            c_ab = np.cov(x[rows, a], x[rows, b], ddof=1)[0, 1]
            expected = c_ab / present[:, b].sum()
            assert cov[a, b] == pytest.approx(expected, rel=1e-10)
            assert cov[b, a] == cov[a, b]
    # The diagonal is the usual variance of a mean.
    var_mean = [x[present[:, j], j].var(ddof=1) / present[:, j].sum() for j in range(k)]
    assert np.diagonal(cov) == pytest.approx(var_mean, rel=1e-10)


def test_sums_of_subsets_add_up() -> None:
    # Sums over an arm are a matrix product; control = total - treatment gives the same
    # covariance as computing the control arm's columns directly.
    x, present = staggered(1)
    cols = look_covariance_columns(x, present)
    arm = np.random.default_rng(2).random(x.shape[0]) < 0.5
    from_total = look_covariance(cols.sum(axis=0) - arm @ cols, x.shape[1])
    direct = look_covariance(
        look_covariance_columns(x[~arm], present[~arm]).sum(axis=0), x.shape[1]
    )
    assert from_total == pytest.approx(direct, rel=1e-9)


def test_log_ratio_correlation_is_a_correlation() -> None:
    x, present = staggered(3)
    k = x.shape[1]
    arm = np.random.default_rng(4).random(x.shape[0]) < 0.5
    covs, means = [], []
    for rows in (~arm, arm):
        covs.append(look_covariance(look_covariance_columns(x[rows], present[rows]).sum(0), k))
        means.append(np.array([x[rows & present[:, j], j].mean() for j in range(k)]))
    r = log_ratio_correlation(covs[0], means[0], covs[1], means[1])
    assert np.diagonal(r) == pytest.approx(np.ones(k))
    assert r == pytest.approx(r.T)
    assert np.linalg.eigvalsh(r).min() > 0
    assert np.all(r[np.triu_indices(k, 1)] > 0.2)  # cumulative looks are correlated


def test_uninformative_look_is_uncorrelated() -> None:
    cov = np.array([[0.0, 0.0], [0.0, 1.0]])
    r = log_ratio_correlation(cov, np.array([0.0, 1.0]), cov, np.array([0.0, 1.0]))
    assert r.tolist() == [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: look_covariance_columns(
                np.ones((2, 2)), np.array([[True, False], [True, True]])
            ),
            "present is not monotone",
        ),
        (lambda: look_covariance_columns(np.ones((2, 2)), np.ones((2, 3), bool)), "shape"),
        (lambda: look_covariance(np.ones(7), 2), "sums has 7 columns, must be 8"),
    ],
)
def test_invalid_input(call: object, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        call()  # type: ignore[operator]
