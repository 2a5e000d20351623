"""Holm and Benjamini-Hochberg against statsmodels.stats.multitest.multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from analysis.errors import AnalysisError
from analysis.multiple_testing import adjust_pvalues, benjamini_hochberg, holm

PVALUES = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40)


# statsmodels' multipletests costs ~0.1 s per call here, so it is compared on a fixed set
# of inputs (ties, zeros, ones, sizes 1..40); Hypothesis checks the invariants below.
CASES = [
    [0.5],
    [0.0, 0.0, 1.0],
    [0.01, 0.04, 0.03, 0.04, 0.2],
    [1.0] * 4,
    *[
        list(np.random.default_rng(seed).random(size) ** 3)
        for seed, size in ((0, 10), (1, 40), (2, 7))
    ],
]


@pytest.mark.parametrize("p", CASES)
@pytest.mark.parametrize(("ours", "method"), [(holm, "holm"), (benjamini_hochberg, "fdr_bh")])
def test_matches_statsmodels(p: list[float], ours: object, method: str) -> None:
    ref = multipletests(p, alpha=0.05, method=method)[1]
    np.testing.assert_allclose(ours(p), ref, rtol=1e-12, atol=1e-15)  # type: ignore[operator]


@given(PVALUES)
def test_holm_step_down_definition(p: list[float]) -> None:
    # Holm (1979): p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), by a direct double loop.
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    ref = [0.0] * m
    for rank, i in enumerate(order):
        ref[i] = max(min(1.0, (m - j) * p[order[j]]) for j in range(rank + 1))
    np.testing.assert_allclose(holm(p), ref, rtol=1e-12, atol=1e-15)


@given(PVALUES)
def test_adjusted_never_below_raw(p: list[float]) -> None:
    arr = np.asarray(p)
    assert np.all(holm(arr) >= arr - 1e-15)
    assert np.all(benjamini_hochberg(arr) >= arr - 1e-15)
    assert np.all(holm(arr) >= benjamini_hochberg(arr) - 1e-15)


def test_nan_left_out_of_the_family() -> None:
    out = holm([0.01, np.nan, 0.02])
    np.testing.assert_allclose(out, [0.02, np.nan, 0.02])


@pytest.mark.parametrize(
    ("p", "method", "match"),
    [
        ([0.1, 1.5], "holm", "must be in \\[0, 1\\]"),
        ([0.1], "bonferroni", "method == 'bonferroni'"),
    ],
)
def test_invalid_input(p: list[float], method: str, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        adjust_pvalues(p, method)  # type: ignore[arg-type]
