"""Exposure Gini, coverage, head/tail share and popularity lift on hand-built logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.bias import exposure_bias, gini, item_exposure
from analysis.errors import AnalysisError


def test_gini_hand_values() -> None:
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    # sorted (1, 2, 3): 2 (1 + 4 + 9) / (3 * 6) - 4 / 3 = 2/9
    assert gini([3, 1, 2]) == pytest.approx(2 / 9)


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=50))
def test_gini_bounds_and_mean_abs_difference(counts: list[int]) -> None:
    g = gini(counts)
    n = len(counts)
    assert 0 <= g <= 1 - 1 / n + 1e-12
    c = np.asarray(counts, dtype=float)
    if c.sum() > 0:
        # Gini = sum_ij |c_i - c_j| / (2 n^2 mean)
        ref = np.abs(c[:, None] - c[None, :]).sum() / (2 * n * n * c.mean())
        assert g == pytest.approx(ref, abs=1e-12)


EVENTS = pd.DataFrame(
    {
        "user_id": [0, 0, 0, 0, 1, 1, 1, 1],
        "item_id": [0, 0, 0, 1, 0, 1, 2, 3],
        "arm": ["control"] * 4 + ["treatment"] * 4,
    }
)
USERS = pd.DataFrame({"user_id": [0, 1], "cohort": ["old", "new"]})


def test_exposure_bias_by_hand() -> None:
    rc = exposure_bias(EVENTS, USERS, n_items=5, head_fraction=0.2)
    by = {(r.arm, r.cohort): r for r in rc}
    c, t = by[("control", "all")], by[("treatment", "all")]
    # reference popularity (pooled): item 0: 4, item 1: 2, items 2, 3: 1, item 4: 0 -> head = {0}
    assert c.head_share == pytest.approx(0.75)
    assert t.head_share == pytest.approx(0.25)
    assert c.tail_share == pytest.approx(0.25)
    assert c.coverage == pytest.approx(2 / 5)
    assert t.coverage == pytest.approx(4 / 5)
    assert c.gini == pytest.approx(gini([3, 1, 0, 0, 0]))
    assert c.mean_popularity == pytest.approx((4 * 3 + 2) / 4)
    assert t.mean_popularity == pytest.approx((4 + 2 + 1 + 1) / 4)
    assert t.popularity_lift == pytest.approx(2.0 / 3.5 - 1)
    assert c.popularity_lift == 0.0
    assert ("treatment", "new") in by
    assert ("control", "new") not in by


def test_item_exposure() -> None:
    e = item_exposure(EVENTS, 5)
    assert e["control"].tolist() == [3, 1, 0, 0, 0]
    assert e["treatment"].tolist() == [1, 1, 1, 1, 0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gini([]), "counts is empty"),
        (lambda: gini([1, -1]), "must be >= 0"),
        (lambda: exposure_bias(EVENTS, head_fraction=1.0), "head_fraction == 1.0"),
        (lambda: exposure_bias(EVENTS, n_items=2), "n_items == 2"),
        (lambda: exposure_bias(EVENTS, reference_counts=[1, 2]), "reference_counts has shape"),
        (lambda: exposure_bias(EVENTS.drop(columns=["arm"])), "missing columns"),
    ],
)
def test_invalid_input(call: object, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        call()  # type: ignore[operator]
