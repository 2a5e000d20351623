"""Group-sequential boundaries against published tables and an independent integration.

Monte-Carlo tolerances: the boundaries are order statistics of 200,000 simulated paths
(fixed seed). Their standard deviation over 20 seeds, measured with this module, is about
0.004 for the classical constants (K = 5), and 0.016, 0.008, 0.006, 0.005 at looks 2 to 5
of the Lan-DeMets O'Brien-Fleming-type design (look 1 spends about 2 of the 200,000 paths,
so its boundary is not compared). Tolerances are about four of those standard deviations
plus the tables' rounding (0.0005).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from analysis.errors import AnalysisError
from analysis.group_sequential import (
    alpha_spent,
    boundaries_from_spending,
    boundary_crossed,
    brownian_correlation,
    classical_boundaries,
    classical_constant,
    repeated_ci,
    spending_boundaries,
)
from analysis.harness import aa_peeking
from analysis.metrics import daily_user_metrics
from analysis.sequential import SequentialConfig, monitor
from analysis.synthetic import SyntheticLogConfig, synthetic_log

EQUAL_5 = np.arange(1, 6) / 5


@pytest.mark.parametrize("t", [0.2, 0.5, 0.8, 1.0])
def test_spending_functions_by_hand(t: float) -> None:
    alpha = 0.05
    z = 1.959963984540054  # scipy.stats.norm.isf(0.025)
    obf = 2 - 2 * scipy.stats.norm.cdf(z / math.sqrt(t))
    pocock = alpha * math.log(1 + (math.e - 1) * t)
    assert float(alpha_spent(t, alpha, "obrien_fleming")) == pytest.approx(obf, rel=1e-12)
    assert float(alpha_spent(t, alpha, "pocock")) == pytest.approx(pocock, rel=1e-12)
    assert float(alpha_spent(t, alpha, "linear")) == pytest.approx(alpha * t, rel=1e-12)


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock", "linear"])
def test_everything_is_spent_at_the_end(spending: str) -> None:
    assert float(alpha_spent(1.0, 0.05, spending)) == pytest.approx(0.05, rel=1e-12)  # type: ignore[arg-type]
    assert float(alpha_spent(0.0, 0.05, spending)) == 0.0  # type: ignore[arg-type]


# Jennison & Turnbull (2000), Table 2.1 (Pocock C_P) and Table 2.3 (O'Brien-Fleming C_B),
# two-sided alpha = 0.05, K equally spaced looks.
POCOCK_C = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413, 10: 2.555}
OBRIEN_FLEMING_C = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040, 10: 2.087}


@pytest.mark.parametrize("n_looks", sorted(POCOCK_C))
def test_classical_constants_match_the_published_tables(n_looks: int) -> None:
    assert classical_constant(n_looks, 0.05, "pocock") == pytest.approx(
        POCOCK_C[n_looks], abs=0.015
    )
    assert classical_constant(n_looks, 0.05, "obrien_fleming") == pytest.approx(
        OBRIEN_FLEMING_C[n_looks], abs=0.015
    )


def test_classical_boundaries_shapes() -> None:
    obf = classical_boundaries(4, 0.05, "obrien_fleming")
    assert obf == pytest.approx(obf[-1] * np.sqrt(4 / np.arange(1, 5)), rel=1e-12)
    assert np.all(classical_boundaries(4, 0.05, "pocock") == classical_boundaries(4)[0])


# Lan-DeMets boundaries with the spending functions of this module, K = 5 equal looks,
# Brownian correlation. Independent implementation: each c_k by brentq on
# 1 - multivariate_normal(R[:k, :k]).cdf(c, lower_limit=-c) == alpha(t_k), scipy 1.17
# (abseps = releps = 1e-9):
#   obrien_fleming [4.3826, 3.0997, 2.5534, 2.2538, 2.0635]
#   pocock         [2.4380, 2.4268, 2.4102, 2.3966, 2.3860]
LD_OBF_SCIPY = [4.3826, 3.0997, 2.5534, 2.2538, 2.0635]
LD_POCOCK_SCIPY = [2.4380, 2.4268, 2.4102, 2.3966, 2.3860]


def test_spending_boundaries_against_an_independent_integration() -> None:
    r = brownian_correlation(np.arange(1.0, 6.0))
    obf = spending_boundaries(r, EQUAL_5, 0.05, "obrien_fleming")
    assert obf[1:] == pytest.approx(LD_OBF_SCIPY[1:], abs=0.065)
    assert np.abs(obf[2:] - LD_OBF_SCIPY[2:]).max() < 0.035
    assert obf[0] > 4  # about 2 simulated paths: only its order of magnitude is stable
    pocock = spending_boundaries(r, EQUAL_5, 0.05, "pocock")
    assert pocock == pytest.approx(LD_POCOCK_SCIPY, abs=0.035)


def test_ldbounds_published_table() -> None:
    # ldbounds / gsDesign (Reboussin, DeMets, Kim, Lan 2000) tabulate the symmetric
    # two-sided O'Brien-Fleming-type design for alpha = 0.05, K = 5 as
    # 4.877, 3.357, 2.680, 2.290, 2.031. Their convention spends alpha/2 per side with
    # 2 - 2 Phi(z_{1 - alpha/4} / sqrt(t)) (checked: scipy's multivariate normal gives
    # these bounds exit probabilities 1.1e-6, 7.9e-4, 0.0076, 0.0244, 0.0500); this
    # module's "obrien_fleming" is Lan & DeMets' two-sided 2 - 2 Phi(z_{1 - alpha/2} /
    # sqrt(t)), so the table is reproduced through boundaries_from_spending. Look 1
    # spends 0.2 of the 200,000 paths: an infinite boundary. Tolerances: 4 SD over seeds.
    z = scipy.stats.norm.isf(0.05 / 4)
    cumulative = 2 * (2 - 2 * scipy.stats.norm.cdf(z / np.sqrt(EQUAL_5)))
    c = boundaries_from_spending(brownian_correlation(np.arange(1.0, 6.0)), cumulative)
    assert math.isinf(c[0])
    published = np.array([3.357, 2.680, 2.290, 2.031])
    assert np.all(np.abs(c[1:] - published) <= [0.12, 0.04, 0.025, 0.015])


def test_crossing_probability_of_correlated_looks_by_scipy() -> None:
    # A non-Brownian correlation (equicorrelated 0.8): the probability of never crossing
    # must be 1 - alpha(t_k) at every look, integrated independently by scipy (Genz).
    r = np.full((4, 4), 0.8)
    np.fill_diagonal(r, 1.0)
    t = np.arange(1, 5) / 4
    c = spending_boundaries(r, t, 0.05, "obrien_fleming")
    for k in range(1, 5):
        mvn = scipy.stats.multivariate_normal(
            np.zeros(k), r[:k, :k], abseps=1e-7, releps=1e-7, maxpts=1_000_000
        )
        inside = mvn.cdf(c[:k], lower_limit=-c[:k])
        # Monte-Carlo SE of a crossing probability p: sqrt(p / 200,000) <= 0.0005.
        assert 1 - inside == pytest.approx(float(alpha_spent(t[k - 1])), abs=0.002)


def test_deterministic_and_online() -> None:
    r = brownian_correlation(np.array([1.0, 2.0, 2.5, 4.0]))
    t = np.array([0.25, 0.5, 0.75, 1.0])
    first = spending_boundaries(r, t)
    assert np.array_equal(first, spending_boundaries(r, t))
    # Boundaries of the first k looks do not depend on the later looks.
    assert np.array_equal(first[:2], spending_boundaries(r[:2, :2], t[:2]))
    # A batch is the same as one call per matrix.
    batch = spending_boundaries(np.stack([r, np.eye(4)]), t)
    assert np.array_equal(batch[0], first)
    assert np.array_equal(batch[1], spending_boundaries(np.eye(4), t))


def test_zero_spend_gives_an_infinite_boundary() -> None:
    c = spending_boundaries(np.eye(3), [0.01, 0.5, 1.0], 0.05, "obrien_fleming")
    assert math.isinf(c[0])
    assert np.all(np.isfinite(c[1:]))


def test_repeated_ci_and_crossing() -> None:
    lo, hi = repeated_ci([0.1, 0.2], [0.0025, 0.0025], [np.inf, 2.0])
    assert (lo[0], hi[0]) == (-np.inf, np.inf)
    assert (float(lo[1]), float(hi[1])) == pytest.approx((0.1, 0.3), rel=1e-12)
    # Rejection at look k is exactly "the repeated interval excludes 0".
    crossed = boundary_crossed([0.1, 0.2], [0.0025, 0.0025], [np.inf, 2.0])
    assert crossed.tolist() == [False, True]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: spending_boundaries(np.array([[1.0, 1.5], [1.5, 1.0]]), [0.5, 1.0]),
            r"smallest eigenvalue -0.5, must be positive semi-definite",
        ),
        (lambda: spending_boundaries(np.eye(2), [0.5, 1.0], alpha=1.5), r"alpha == 1.5"),
        (lambda: spending_boundaries(np.eye(2), [0.6, 0.4]), r"must be strictly increasing"),
        (lambda: spending_boundaries(np.eye(2), [0.5, 1.2]), r"must lie in \(0, 1\]"),
        (
            lambda: spending_boundaries(np.eye(2), [0.5, 1.0], spending="haybittle"),  # type: ignore[arg-type]
            r"spending == 'haybittle', must be one of \['obrien_fleming', 'pocock', 'linear'\]",
        ),
        (lambda: spending_boundaries(np.eye(3), [0.5, 1.0]), r"correlation has shape \(3, 3\)"),
        (lambda: spending_boundaries(2 * np.eye(2), [0.5, 1.0]), r"diagonal \[2.0, 2.0\]"),
        (lambda: spending_boundaries(np.eye(2), [0.5, 1.0], n_draws=10), r"n_draws == 10"),
        (lambda: boundaries_from_spending(np.eye(2), [0.03, 0.01]), r"must be non-decreasing"),
        (lambda: brownian_correlation([2.0, 1.0]), r"information == \[2.0, 1.0\]"),
        (lambda: classical_constant(0), r"n_looks == 0"),
        (lambda: classical_constant(3, design="x"), r"design == 'x'"),  # type: ignore[arg-type]
        (lambda: alpha_spent(1.5), r"fraction == 1.5, must lie in \[0, 1\]"),
        (lambda: SequentialConfig(spending="x"), r"SequentialConfig.spending == 'x'"),  # type: ignore[arg-type]
    ],
)
def test_invalid_input(call: object, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        call()  # type: ignore[operator]


@pytest.fixture(scope="module")
def log() -> tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig]:
    cfg = SyntheticLogConfig(n_users=1500, n_days=6, pre_days=0, return_lift=0.3)
    events, users = synthetic_log(cfg, rng=4)
    return events, users, cfg


def test_monitor_carries_the_group_sequential_test(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig],
) -> None:
    events, users, cfg = log
    daily = daily_user_metrics(events, users, cfg.window)
    rc = monitor(daily, ["active_days", "finish_rate"], segments=("all", "new"))
    for metric in ("active_days", "finish_rate"):
        rows = [r for r in rc if r.metric == metric and r.segment == "all"]
        c = np.array([r.gst_boundary for r in rows])
        finite = np.isfinite(c)
        assert not finite[0]  # day 1 of 6 spends 1.6e-6 of alpha: 0.3 of 200,000 paths
        assert np.all(np.diff(c[finite]) < 0)  # the boundary falls towards the end
        assert 1.9 < c[-1] < 2.3
        reject = [r.gst_reject for r in rows]
        assert reject == sorted(reject)  # once rejected, stays rejected
        for r in rows:
            assert r.gst_rel_ci_lower <= r.rel_effect_size <= r.gst_rel_ci_upper
            # Consistency: rejected at this look iff the repeated interval excludes 0
            # (or an earlier look had rejected).
            if r.gst_reject and math.isfinite(r.gst_boundary):
                excludes = r.gst_rel_ci_lower > 0 or r.gst_rel_ci_upper < 0
                assert excludes or rows[rows.index(r) - 1].gst_reject
    active = [r for r in rc if r.metric == "active_days" and r.segment == "all"]
    assert active[-1].gst_reject  # a 30% return lift is found


def test_monitor_pocock_spending_spends_early(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig],
) -> None:
    events, users, cfg = log
    daily = daily_user_metrics(events, users, cfg.window, ("active_days",))
    rc = monitor(daily, ["active_days"], SequentialConfig(spending="pocock"))
    c = np.array([r.gst_boundary for r in rc])
    assert np.all(np.isfinite(c))
    assert np.all((c > 2.2) & (c < 2.7))


def test_peeking_harness_reports_a_group_sequential_rate(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig],
) -> None:
    events, users, cfg = log
    daily = daily_user_metrics(events, users, cfg.window, ("active_days",))
    r = aa_peeking(daily, "active_days", n_rounds=50, rng=0, n_draws=20_000)
    assert 0 <= r.gst_fpr <= 1
    assert r.gst_fpr * 50 == pytest.approx(round(r.gst_fpr * 50), abs=1e-9)
    assert r.gst_fpr <= r.naive_fpr
    assert r.spending == "obrien_fleming"
