"""Tests for analysis.offline: golden values from scikit-learn and hand calculations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import roc_auc_score

from analysis.errors import AnalysisError, InsufficientDataError
from analysis.offline import (
    calibration,
    evaluate,
    evaluate_cohorts,
    head_items,
    log_loss,
    rela_impr,
    roc_auc,
    uauc,
)

Y = [0, 1, 1, 0, 1, 0, 0, 1]
S = [0.2, 0.7, 0.2, 0.2, 0.9, 0.5, 0.1, 0.5]


def test_auc_golden_with_ties() -> None:
    # .venv/bin/python -c "from sklearn.metrics import roc_auc_score as f;
    #   print(repr(f([0,1,1,0,1,0,0,1],[0.2,0.7,0.2,0.2,0.9,0.5,0.1,0.5])))"  -> 0.84375
    assert roc_auc(Y, S) == pytest.approx(0.84375, abs=1e-12)


def test_log_loss_golden() -> None:
    # .venv/bin/python -c "from sklearn.metrics import log_loss as f;
    #   print(repr(f([0,1,1,0,1,0,0,1],[0.2,0.7,0.2,0.2,0.9,0.5,0.1,0.5])))"
    #   -> 0.5011769189295994
    assert log_loss(Y, S) == pytest.approx(0.5011769189295994, abs=1e-12)


def test_uauc_hand_calculation_skips_single_class_users() -> None:
    # user 1: y=[0,1,1], s=[.2,.7,.2] -> AUC .75 (sklearn); user 2: y=[0,1,0],
    # s=[.2,.9,.5] -> 1.0; user 3: y=[0,0] single class, skipped; user 4: y=[0,1] -> 1.0.
    # UAUC = (3 * .75 + 3 * 1 + 2 * 1) / 8 = 0.90625
    y = [0, 1, 1, 0, 1, 0, 0, 0, 0, 1]
    s = [0.2, 0.7, 0.2, 0.2, 0.9, 0.5, 0.3, 0.4, 0.1, 0.5]
    u = [1, 1, 1, 2, 2, 2, 3, 3, 4, 4]
    r = uauc(y, s, u)
    assert r.uauc == pytest.approx(0.90625, abs=1e-12)
    assert (r.n_users, r.n_users_skipped, r.n_samples) == (3, 1, 8)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60),
)
def test_auc_matches_sklearn_with_heavy_ties(pairs: list[tuple[int, int]]) -> None:
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=np.float64) / 6.0
    if y.min() == y.max():
        with pytest.raises(InsufficientDataError):
            roc_auc(y, s)
        return
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_uauc_and_log_loss_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    users = rng.integers(0, 15, n)
    y = rng.integers(0, 2, n)
    p = rng.uniform(0.01, 0.99, n)
    r = uauc(y, p, users)
    total = weight = 0.0
    skipped = 0
    for u in np.unique(users):
        m = users == u
        if y[m].min() == y[m].max():
            skipped += 1
            continue
        total += m.sum() * roc_auc_score(y[m], p[m])
        weight += m.sum()
    assert r.uauc == pytest.approx(total / weight, abs=1e-12)
    assert r.n_users_skipped == skipped
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, p), abs=1e-12)


def test_rela_impr() -> None:
    # (0.76 - 0.5) / (0.75 - 0.5) - 1 = 0.04 by hand
    assert rela_impr(0.76, 0.75) == pytest.approx(0.04, abs=1e-12)
    assert rela_impr(0.75, 0.75) == 0.0


def test_calibration_hand_calculation() -> None:
    # bins of width .5: [0, .5) holds p=.1,.2 (y=0,1) -> mean p .15, rate .5;
    # [.5, 1] holds p=.5,.9 (y=1,1) -> mean p .7, rate 1. ECE = .5*.35 + .5*.3 = .325
    c = calibration([0, 1, 1, 1], [0.1, 0.2, 0.5, 0.9], n_bins=2)
    assert c.ece == pytest.approx(0.325, abs=1e-12)
    assert c.bin_counts.tolist() == [2, 2]
    np.testing.assert_allclose(c.mean_predicted, [0.15, 0.7], atol=1e-12)


def test_head_items_reach_share() -> None:
    items = [1] * 6 + [2] * 2 + [3] + [4]  # 10 samples, item 1 makes 60%, 1+2 make 80%
    assert head_items(items, 0.8).tolist() == [1, 2]
    assert head_items(items, 0.5).tolist() == [1]


def test_evaluate_and_cohorts() -> None:
    y = np.array(Y)
    p = np.array(S)
    users = np.array([1, 1, 2, 2, 3, 3, 4, 4])
    new = users <= 2
    out = evaluate_cohorts(y, p, users, {"new_users": new, "old_users": ~new})
    assert out["all"].auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert out["new_users"].auc == pytest.approx(roc_auc_score(y[new], p[new]), abs=1e-12)
    assert out["old_users"].n_samples == 4
    single = evaluate([1, 1], [0.5, 0.6], [1, 2])
    assert np.isnan(single.auc)
    assert single.n_users_skipped == 2


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: roc_auc([0, 1], [0.1]), AnalysisError, "same length"),
        (lambda: roc_auc([0, 2], [0.1, 0.2]), AnalysisError, "binary"),
        (lambda: roc_auc([0, 1], [0.1, np.nan]), AnalysisError, "finite"),
        (lambda: roc_auc([1, 1], [0.1, 0.2]), InsufficientDataError, "both classes"),
        (lambda: uauc([0, 1], [0.1, 0.2], [1]), AnalysisError, "user_ids has 1"),
        (lambda: uauc([0, 0], [0.1, 0.2], [1, 2]), InsufficientDataError, "single label"),
        (lambda: rela_impr(0.7, 0.5), AnalysisError, "auc_base == 0.5"),
        (lambda: log_loss([0, 1], [0.1, 1.2]), AnalysisError, "outside"),
        (lambda: calibration([0], [0.1], n_bins=0), AnalysisError, "n_bins == 0"),
        (lambda: head_items([1], 0.0), AnalysisError, "head_share == 0.0"),
        (
            lambda: evaluate_cohorts([0, 1], [0.1, 0.2], [1, 1], {"x": [True]}),
            AnalysisError,
            r"cohorts\['x'\]",
        ),
    ],
)
def test_invalid_input(call, exc: type[Exception], pattern: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=pattern):
        call()
