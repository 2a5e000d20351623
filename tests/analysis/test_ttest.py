"""Welch's test and relative intervals against scipy, statsmodels and hand calculations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from analysis.errors import AnalysisError, InsufficientDataError
from analysis.ttest import welch_from_stats, welch_from_values

CONTROL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]
TREATMENT = [2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 16]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_matches_scipy_and_statsmodels(seed: int, alternative: str) -> None:
    rng = np.random.default_rng(seed)
    c = rng.lognormal(size=37)
    t = rng.lognormal(0.3, 1.4, size=52)
    r = welch_from_values(c, t, alternative=alternative)  # type: ignore[arg-type]
    ref = scipy.stats.ttest_ind(t, c, equal_var=False, alternative=alternative)
    assert float(r.statistic) == pytest.approx(ref.statistic, rel=1e-10, abs=1e-12)
    assert float(r.pvalue) == pytest.approx(ref.pvalue, rel=1e-10, abs=1e-12)
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    _, _, df = cm.ttest_ind(alternative=sm_alt, usevar="unequal")
    assert float(r.df) == pytest.approx(df, rel=1e-10)
    lo, hi = cm.tconfint_diff(alpha=0.05, alternative=sm_alt, usevar="unequal")
    assert float(r.effect_size_ci_lower) == pytest.approx(lo, rel=1e-10)
    assert float(r.effect_size_ci_upper) == pytest.approx(hi, rel=1e-10)


def test_normal_approximation_matches_statsmodels_ztest() -> None:
    rng = np.random.default_rng(5)
    c, t = rng.normal(size=200), rng.normal(0.2, 2.0, size=300)
    r = welch_from_values(c, t, use_t=False)
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    z, p = cm.ztest_ind(usevar="unequal")
    assert float(r.statistic) == pytest.approx(z, rel=1e-10)
    assert float(r.pvalue) == pytest.approx(p, rel=1e-10)


def test_log_delta_relative_interval_hand_calculation() -> None:
    # Golden values: `python tests/analysis/golden_values.py` (standard-library means/variances, scipy t.ppf):
    #   a = v_c/(n_c m_c^2); b = v_t/(n_t m_t^2); se = sqrt(a+b); df = (a+b)^2/(a^2/(n_c-1)+b^2/(n_t-1))
    #   ci = m_t/m_c * exp(-/+ t_{0.975,df} se) - 1
    r = welch_from_values(CONTROL, TREATMENT)
    assert float(r.rel_effect_size_ci_lower) == pytest.approx(-0.040235791618443595, rel=1e-10)
    assert float(r.rel_effect_size_ci_upper) == pytest.approx(1.7036042206440545, rel=1e-10)
    assert float(r.rel_effect_size) == pytest.approx(np.mean(TREATMENT) / np.mean(CONTROL) - 1)


def test_fieller_interval_hand_calculation() -> None:
    # Golden values: same script, Fieller roots with q = t_{0.975, Welch df}:
    #   (m_t m_c -/+ q sqrt(a m_c^2 + b m_t^2 - q^2 a b)) / (m_c^2 - q^2 b) - 1
    r = welch_from_values(CONTROL, TREATMENT, rel_ci="fieller")
    assert float(r.rel_effect_size_ci_lower) == pytest.approx(-0.04619037096307177, rel=1e-10)
    assert float(r.rel_effect_size_ci_upper) == pytest.approx(1.8688258310811907, rel=1e-10)


def test_fieller_unbounded_when_control_not_different_from_zero() -> None:
    r = welch_from_values([-1.0, 1.0, -2.0, 2.0], [1.0, 2.0, 3.0, 4.0], rel_ci="fieller")
    assert np.isnan(r.rel_effect_size_ci_lower)
    assert np.isnan(r.rel_effect_size_ci_upper)


def test_log_delta_matches_tea_tasting() -> None:
    tt = pytest.importorskip("tea_tasting")
    import pandas as pd

    rng = np.random.default_rng(3)
    y = rng.exponential(size=300)
    variant = np.r_[np.zeros(140, int), np.ones(160, int)]
    y[variant == 1] *= 1.2
    frame = pd.DataFrame({"variant": variant, "y": y})
    ref = tt.Experiment(m=tt.Mean("y")).analyze(frame).to_dicts()[0]
    r = welch_from_values(y[variant == 0], y[variant == 1])
    for key in (
        "effect_size",
        "effect_size_ci_lower",
        "effect_size_ci_upper",
        "rel_effect_size",
        "rel_effect_size_ci_lower",
        "rel_effect_size_ci_upper",
        "pvalue",
    ):
        assert float(getattr(r, key)) == pytest.approx(ref[key], rel=1e-10), key


def test_vectorised_over_arrays() -> None:
    r = welch_from_stats([1.0, 2.0], [1.0, 4.0], [10, 20], [1.5, 2.0], [1.0, 4.0], [10, 20])
    assert r.pvalue.shape == (2,)
    assert r.pvalue[1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("mean_t", "pvalue"),
    [(3.0, 1.0), (4.0, 0.0)],
)
def test_zero_variance_is_a_documented_result(mean_t: float, pvalue: float) -> None:
    r = welch_from_stats(3.0, 0.0, 10, mean_t, 0.0, 10)
    assert float(r.pvalue) == pvalue
    assert float(r.effect_size_ci_lower) == float(r.effect_size_ci_upper) == mean_t - 3.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"control": [1.0], "treatment": [1.0, 2.0]}, InsufficientDataError, "n_control == 1"),
        ({"control": [], "treatment": [1.0, 2.0]}, InsufficientDataError, "n_control == 0"),
        ({"control": [1.0, np.nan], "treatment": [1.0, 2.0]}, AnalysisError, "NaN"),
        (
            {"control": [1.0, 2.0], "treatment": [1.0, 2.0], "alpha": 1.5},
            AnalysisError,
            "alpha == 1.5",
        ),
        (
            {"control": [1.0, 2.0], "treatment": [1.0, 2.0], "rel_ci": "x"},
            AnalysisError,
            "rel_ci == 'x'",
        ),
        (
            {"control": [1.0, 2.0], "treatment": [1.0, 2.0], "alternative": "both"},
            AnalysisError,
            "alternative == 'both'",
        ),
    ],
)
def test_invalid_input(kwargs: dict[str, object], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        welch_from_values(**kwargs)  # type: ignore[arg-type]
