"""mSPRT formulas by hand, always-valid properties, and daily monitoring of a log."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.metrics import daily_user_metrics
from analysis.sequential import SequentialConfig, monitor, msprt, sequential_relative
from analysis.synthetic import SyntheticLogConfig, synthetic_log


def test_msprt_hand_calculation() -> None:
    # Johari et al. (2017), normal mixture: Lambda = sqrt(V/(V+t2)) exp(t2 d^2 / (2 V (V+t2)))
    d, v, tau, alpha = 0.3, 0.01, 0.2, 0.05
    t2 = tau**2
    lam = math.sqrt(v / (v + t2)) * math.exp(t2 * d * d / (2 * v * (v + t2)))
    half = math.sqrt(v * (v + t2) / t2 * (math.log((v + t2) / v) - 2 * math.log(alpha)))
    p, lo, hi = msprt([d], [v], tau, alpha)
    assert float(p[0]) == pytest.approx(min(1.0, 1 / lam), rel=1e-12)
    assert float(lo[0]) == pytest.approx(d - half, rel=1e-12)
    assert float(hi[0]) == pytest.approx(d + half, rel=1e-12)


def test_interval_boundary_is_where_lambda_equals_one_over_alpha() -> None:
    d, v, tau, alpha = 0.1, 0.004, 0.05, 0.05
    _, lo, _ = msprt([d], [v], tau, alpha)
    # At theta_0 = lower bound, the test of theta_0 is exactly at the threshold.
    p_at_bound, _, _ = msprt([d - float(lo[0])], [v], tau, alpha)
    assert float(p_at_bound[0]) == pytest.approx(alpha, rel=1e-9)


def test_pvalue_non_increasing_and_intersection() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(0, 0.1, size=(50, 20))
    v = np.linspace(0.02, 0.001, 20)
    p, lo, hi = msprt(d, v, 0.1)
    assert np.all(np.diff(p, axis=1) <= 0)
    assert np.all(np.diff(lo, axis=1) >= 0)
    assert np.all(np.diff(hi, axis=1) <= 0)
    _, lo2, _ = msprt(d, v, 0.1, intersect=False)
    assert np.any(np.diff(lo2, axis=1) < 0)


def test_sequential_relative_is_wider_than_fixed_horizon() -> None:
    p, lo, hi = sequential_relative([10.0], [25.0], [500], [10.5], [25.0], [500], rel_tau=0.05)
    half_fixed = 1.96 * math.sqrt(25 / (500 * 100) + 25 / (500 * 110.25))
    assert float(hi[0] - lo[0]) > 2 * half_fixed * 0.9
    assert 0 < float(p[0]) <= 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: msprt([0.1], [0.1], 0.0), "tau > 0"),
        (lambda: msprt([0.1], [-0.1], 1.0), "variance must be >= 0"),
        (lambda: msprt([0.1], [0.1], 1.0, alpha=1.0), "alpha == 1.0"),
        (lambda: SequentialConfig(rel_tau=0.0), "rel_tau == 0.0"),
    ],
)
def test_invalid_input(call: object, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        call()  # type: ignore[operator]


def test_monitor_on_a_log() -> None:
    cfg = SyntheticLogConfig(n_users=1500, n_days=6, pre_days=0, return_lift=0.3)
    events, users = synthetic_log(cfg, rng=4)
    daily = daily_user_metrics(events, users, cfg.window)
    rc = monitor(daily, ["active_days", "finish_rate"], segments=("all", "new"))
    rows = [r for r in rc if r.metric == "active_days" and r.segment == "all"]
    assert [r.day for r in rows] == list(range(6))
    for r in rows:
        assert r.rel_effect_size_ci_lower <= r.rel_effect_size <= r.rel_effect_size_ci_upper
        # always-valid intervals are wider than fixed-horizon ones
        assert r.effect_size_ci_upper - r.effect_size_ci_lower > r.naive_ci_upper - r.naive_ci_lower
    assert np.all(np.diff([r.pvalue for r in rows]) <= 0)
    assert rows[-1].pvalue < 0.05  # a 30% return lift is found
    new_rows = [r for r in rc if r.segment == "new"]
    assert new_rows[0].n_control < new_rows[-1].n_control  # new users arrive over time
