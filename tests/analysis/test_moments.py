"""Moments: pooling two samples equals computing on their union; grouped equals per group."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.errors import AnalysisError
from analysis.moments import Moments, grouped_moments


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 30), st.integers(2, 30), st.integers(0, 10_000))
def test_add_equals_union(n1: int, n2: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n1, 3)), rng.normal(5.0, 2.0, size=(n2, 3))
    pooled = Moments.from_values(a) + Moments.from_values(b)
    direct = Moments.from_values(np.vstack([a, b]))
    assert float(pooled.count) == n1 + n2
    np.testing.assert_allclose(pooled.mean, direct.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pooled.cov, direct.cov, rtol=1e-10, atol=1e-12)


def test_from_sums_equals_from_values() -> None:
    x = np.random.default_rng(1).normal(size=(50, 2))
    m = Moments.from_sums(np.asarray(50.0), x.sum(axis=0), x.T @ x)
    ref = Moments.from_values(x)
    np.testing.assert_allclose(m.cov, ref.cov, rtol=1e-10)


def test_grouped_equals_per_group() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 3))
    codes = rng.integers(0, 4, size=200)
    codes[codes == 3] = 2  # group 3 left empty
    g = grouped_moments(x, codes, 4)
    for k in range(3):
        ref = Moments.from_values(x[codes == k])
        np.testing.assert_allclose(g.mean[k], ref.mean, rtol=1e-12)
        np.testing.assert_allclose(g.cov[k], ref.cov, rtol=1e-10)
    assert g.count[3] == 0
    assert np.isnan(g.mean[3]).all()


def test_values_must_be_2d() -> None:
    with pytest.raises(AnalysisError, match=r"values\.ndim == 1"):
        Moments.from_values(np.ones(3))
