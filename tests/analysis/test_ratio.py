"""Delta-method ratio metrics against a hand calculation and tea-tasting's RatioOfMeans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.moments import Moments
from analysis.ratio import ratio_stats
from analysis.ttest import welch_from_stats


def test_delta_variance_hand_calculation() -> None:
    rng = np.random.default_rng(0)
    y = rng.poisson(5.0, size=200).astype(float)
    z = 1.0 + rng.poisson(2.0, size=200)
    value, var, n = ratio_stats(Moments.from_values(np.c_[y, z]), 0, 1)
    r = y.mean() / z.mean()
    s = np.cov(y, z)  # ddof=1
    # Deng et al. 2018, eq. (3): (S_yy - 2 R S_yz + R^2 S_zz) / mean(z)^2
    expected = (s[0, 0] - 2 * r * s[0, 1] + r * r * s[1, 1]) / z.mean() ** 2
    assert float(value) == pytest.approx(r, rel=1e-12)
    assert float(var) == pytest.approx(expected, rel=1e-10)
    assert float(n) == 200


def test_simple_mean_is_plain_variance() -> None:
    y = np.array([1.0, 4.0, 2.0, 8.0])
    value, var, _ = ratio_stats(Moments.from_values(y[:, None]), 0, None)
    assert float(value) == pytest.approx(3.75)
    assert float(var) == pytest.approx(y.var(ddof=1))


def test_matches_tea_tasting_ratio_of_means() -> None:
    tt = pytest.importorskip("tea_tasting")
    rng = np.random.default_rng(11)
    n = 600
    variant = (rng.random(n) < 0.5).astype(int)
    sessions = 1.0 + rng.poisson(2.0, size=n)
    duration = sessions * rng.gamma(3.0, 100.0, size=n) * (1 + 0.05 * variant)
    frame = pd.DataFrame({"variant": variant, "duration": duration, "sessions": sessions})
    ref = tt.Experiment(m=tt.RatioOfMeans("duration", "sessions")).analyze(frame).to_dicts()[0]
    cols = np.c_[duration, sessions]
    c = ratio_stats(Moments.from_values(cols[variant == 0]), 0, 1)
    t = ratio_stats(Moments.from_values(cols[variant == 1]), 0, 1)
    w = welch_from_stats(c[0], c[1], c[2], t[0], t[1], t[2])
    for key in (
        "control",
        "treatment",
        "effect_size_ci_lower",
        "effect_size_ci_upper",
        "rel_effect_size_ci_lower",
        "rel_effect_size_ci_upper",
        "pvalue",
    ):
        assert float(getattr(w, key)) == pytest.approx(ref[key], rel=1e-9), key
