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


@given(PVALUES)
def test_holm_matches_statsmodels(p: list[float]) -> None:
    ref = multipletests(p, alpha=0.05, method="holm")[1]
    np.testing.assert_allclose(holm(p), ref, rtol=1e-12, atol=1e-15)


@given(PVALUES)
def test_bh_matches_statsmodels(p: list[float]) -> None:
    ref = multipletests(p, alpha=0.05, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(p), ref, rtol=1e-12, atol=1e-15)


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
