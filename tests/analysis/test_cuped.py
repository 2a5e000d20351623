"""CUPED against a hand calculation, tea-tasting, and a per-user adjusted Welch test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from golden_values import CONTROL, TREATMENT, X_CONTROL, X_TREATMENT

from analysis.cuped import cuped_stats
from analysis.errors import AnalysisError
from analysis.moments import Moments
from analysis.ttest import welch_from_stats


def _moments(y: Sequence[float] | np.ndarray, *cols: Sequence[float] | np.ndarray) -> Moments:
    return Moments.from_values(np.column_stack([y, *cols]).astype(float))


def test_single_covariate_hand_calculation() -> None:
    # Golden values: `python tests/analysis/golden_values.py` (line "cuped"):
    #   theta = cov(X, Y) / var(X) on both arms pooled; Y_cv = Y - theta (X - mean_pooled(X)).
    s = cuped_stats(_moments(CONTROL, X_CONTROL), _moments(TREATMENT, X_TREATMENT), 0, None, [1])
    assert float(s.theta[0]) == pytest.approx(1.001835343471421, rel=1e-10)
    assert float(s.mean_c) == pytest.approx(7.393578794915974, rel=1e-10)
    assert float(s.mean_t) == pytest.approx(7.642201095530933, rel=1e-10)
    w = welch_from_stats(s.mean_c, s.var_c, s.n_c, s.mean_t, s.var_t, s.n_t)
    assert float(w.effect_size) == pytest.approx(0.2486223006149597, rel=1e-10)
    assert float(w.se) == pytest.approx(0.6015581417352631, rel=1e-10)


def test_equals_welch_on_adjusted_values_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, size=(2, 400))
    y = 2 * x + rng.normal(size=(2, 400))
    xs, ys = x.ravel(), y.ravel()
    theta = np.cov(xs, ys)[0, 1] / xs.var(ddof=1)
    adj = y - theta * (x - xs.mean())
    ref = scipy.stats.ttest_ind(adj[1], adj[0], equal_var=False)
    s = cuped_stats(_moments(y[0], x[0]), _moments(y[1], x[1]), 0, None, [1])
    w = welch_from_stats(s.mean_c, s.var_c, s.n_c, s.mean_t, s.var_t, s.n_t)
    assert float(w.statistic) == pytest.approx(ref.statistic, rel=1e-10)
    assert float(w.pvalue) == pytest.approx(ref.pvalue, rel=1e-10)
    assert float(s.var_reduction) > 0.5


def test_matches_tea_tasting() -> None:
    tt = pytest.importorskip("tea_tasting")
    rng = np.random.default_rng(7)
    n = 500
    variant = (rng.random(n) < 0.45).astype(int)
    x = rng.gamma(2.0, size=n)
    y = (x + rng.exponential(size=n)) * (1 + 0.1 * variant)
    frame = pd.DataFrame({"variant": variant, "y": y, "x": x})
    ref = tt.Experiment(m=tt.Mean("y", "x")).analyze(frame).to_dicts()[0]
    cols = np.c_[y, x]
    s = cuped_stats(
        Moments.from_values(cols[variant == 0]),
        Moments.from_values(cols[variant == 1]),
        0,
        None,
        [1],
    )
    w = welch_from_stats(s.mean_c, s.var_c, s.n_c, s.mean_t, s.var_t, s.n_t)
    for key in (
        "control",
        "treatment",
        "effect_size",
        "effect_size_ci_lower",
        "pvalue",
        "rel_effect_size_ci_lower",
        "rel_effect_size_ci_upper",
    ):
        assert float(getattr(w, key)) == pytest.approx(ref[key], rel=1e-9), key


def test_constant_covariate_gives_no_adjustment() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=(2, 50))
    s = cuped_stats(_moments(y[0], np.ones(50)), _moments(y[1], np.ones(50)), 0, None, [1])
    assert float(s.theta[0]) == 0.0
    assert float(s.mean_c) == pytest.approx(y[0].mean())
    assert float(s.var_reduction) == pytest.approx(0.0, abs=1e-12)


def test_vectorised_matches_loop() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(5, 2, 40, 2))
    data[..., 0] += data[..., 1]
    c = Moments.stack([Moments.from_values(d[0]) for d in data])
    t = Moments.stack([Moments.from_values(d[1]) for d in data])
    s = cuped_stats(c, t, 0, None, [1])
    for i, d in enumerate(data):
        one = cuped_stats(Moments.from_values(d[0]), Moments.from_values(d[1]), 0, None, [1])
        assert float(one.mean_t) == pytest.approx(s.mean_t[i], rel=1e-12)
        assert float(one.var_c) == pytest.approx(s.var_c[i], rel=1e-12)


@pytest.mark.parametrize(
    ("covariates", "match"),
    [([0], "include the metric's own column"), ([1, 0], "include the metric's own column")],
)
def test_invalid_covariates(covariates: list[int], match: str) -> None:
    m = _moments([1.0, 2.0, 3.0], [1.0, 0.0, 2.0])
    with pytest.raises(AnalysisError, match=match):
        cuped_stats(m, m, 0, None, covariates)


def test_mismatched_columns() -> None:
    with pytest.raises(AnalysisError, match="columns"):
        cuped_stats(_moments([1.0, 2.0], [1.0, 2.0]), _moments([1.0, 2.0]), 0, None, [])
