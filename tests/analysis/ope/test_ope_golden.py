"""Hand-computed golden values of every estimator on a tiny log, and the on-policy property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.ope import (
    DirectMethod,
    DoublyRobust,
    DoublyRobustWithShrinkage,
    InverseProbabilityWeighting,
    PerDecisionImportanceSampling,
    SelfNormalizedDoublyRobust,
    SelfNormalizedInverseProbabilityWeighting,
    SparseActionDist,
    SwitchDoublyRobust,
    effective_sample_size,
)

# The tiny log: 3 rounds, 2 actions, one position.
#   round  action  pscore  reward  pi_e(.|x)    q_hat(x, .)
#   0      0       0.5     1       [0.8, 0.2]   [0.6, 0.4]
#   1      1       0.25    0       [0.5, 0.5]   [0.5, 0.2]
#   2      0       0.8     1       [0.2, 0.8]   [0.9, 0.3]
ACTION = np.array([0, 1, 0])
PSCORE = np.array([0.5, 0.25, 0.8])
REWARD = np.array([1.0, 0.0, 1.0])
ACTION_DIST = np.array([[0.8, 0.2], [0.5, 0.5], [0.2, 0.8]])[:, :, None]
Q_HAT = np.array([[0.6, 0.4], [0.5, 0.2], [0.9, 0.3]])[:, :, None]

# Hand calculation (every number by hand, checked with a pocket calculator):
#   w = pi_e(a_i|x_i) / pscore_i = [0.8/0.5, 0.5/0.25, 0.2/0.8] = [1.6, 2.0, 0.25]
#   sum w r = 1.6 + 0 + 0.25 = 1.85;  sum w = 3.85
#   IPS   = 1.85 / 3                                   = 0.616666...
#   SNIPS = 1.85 / 3.85                                = 0.480519480...
#   q(x, pi_e) = [0.8*0.6+0.2*0.4, 0.5*0.5+0.5*0.2, 0.2*0.9+0.8*0.3] = [0.56, 0.35, 0.42]
#   DM    = 1.33 / 3                                   = 0.443333...
#   residual r - q(x, a) = [1-0.6, 0-0.2, 1-0.9] = [0.4, -0.2, 0.1]
#   w * residual = [0.64, -0.4, 0.025], sum 0.265
#   DR    = (1.33 + 0.265) / 3 = 1.595 / 3             = 0.531666...
#   SNDR  = 1.33 / 3 + 0.265 / 3.85                    = 0.512164502...
#   Switch-DR, tau = 1.8 drops round 1 (w = 2 > 1.8): (1.33 + 0.64 + 0.025) / 3 = 0.665
#   DR-OS, lambda = 4: g(w) = 4w / (w^2 + 4) = [6.4/6.56, 8/8, 1/4.0625]
#                        = [0.975609756, 1.0, 0.246153846]
#       g * residual = [0.390243902, -0.2, 0.0246153846], sum 0.214859287
#       DR-OS = (1.33 + 0.214859287) / 3               = 0.514953096
#   IPS clipped at 1.5: w = [1.5, 1.5, 0.25]: (1.5 + 0.25) / 3 = 0.583333...
#   ESS = 3.85^2 / (1.6^2 + 2^2 + 0.25^2) = 14.8225 / 6.6225 = 2.238203...
GOLDEN = [
    (InverseProbabilityWeighting(), 1.85 / 3),
    (SelfNormalizedInverseProbabilityWeighting(), 1.85 / 3.85),
    (DirectMethod(), 1.33 / 3),
    (DoublyRobust(), 1.595 / 3),
    (SelfNormalizedDoublyRobust(), 1.33 / 3 + 0.265 / 3.85),
    (SwitchDoublyRobust(tau=1.8), 0.665),
    (DoublyRobustWithShrinkage(lambda_=4.0), 0.514953096),
    (InverseProbabilityWeighting(max_weight=1.5), 1.75 / 3),
    # Limits: Switch-DR with tau = inf and DR-OS with lambda = inf are DR; tau = 0 is DM.
    (SwitchDoublyRobust(), 1.595 / 3),
    (SwitchDoublyRobust(tau=0.0), 1.33 / 3),
    (DoublyRobustWithShrinkage(lambda_=0.0), 1.33 / 3),
]
TOL = 1e-8  # the hand values carry 9 significant digits


@pytest.mark.parametrize(("estimator", "expected"), GOLDEN, ids=lambda v: repr(v)[:40])
def test_golden_value_dense(estimator: object, expected: float) -> None:
    value = estimator.estimate_policy_value(  # type: ignore[attr-defined]
        reward=REWARD,
        action=ACTION,
        pscore=PSCORE,
        action_dist=ACTION_DIST,
        estimated_rewards_by_reg_model=Q_HAT,
    )
    assert value == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(("estimator", "expected"), GOLDEN, ids=lambda v: repr(v)[:40])
def test_golden_value_sparse(estimator: object, expected: float) -> None:
    # Same log as candidate sets in a shuffled order and with a padded third slot.
    cand = np.array([[1, 0, -1], [0, 1, -1], [1, 0, -1]])
    probs = np.array([[0.2, 0.8, 0.0], [0.5, 0.5, 0.0], [0.8, 0.2, 0.0]])
    q = np.array([[0.4, 0.6, 7.0], [0.5, 0.2, 7.0], [0.3, 0.9, 7.0]])
    value = estimator.estimate_policy_value(  # type: ignore[attr-defined]
        reward=REWARD,
        action=ACTION,
        pscore=PSCORE,
        action_dist=SparseActionDist(cand, probs),
        estimated_rewards_by_reg_model=q,
    )
    assert value == pytest.approx(expected, abs=TOL)


def test_round_rewards_average_to_estimate() -> None:
    for estimator, expected in GOLDEN:
        rr = estimator._estimate_round_rewards(REWARD, ACTION, PSCORE, ACTION_DIST, None, Q_HAT)
        assert rr.shape == (3,)
        assert rr.mean() == pytest.approx(expected, abs=TOL)


def test_golden_diagnostics() -> None:
    est = InverseProbabilityWeighting().estimate_interval(
        REWARD, ACTION, PSCORE, ACTION_DIST, random_state=0, n_bootstrap_samples=50
    )
    d = est.diagnostics
    assert d.effective_sample_size == pytest.approx(14.8225 / 6.6225, abs=1e-9)
    assert d.max_weight == pytest.approx(2.0)
    assert d.mean_weight == pytest.approx(3.85 / 3)
    assert d.min_pscore == pytest.approx(0.25)
    assert d.share_tiny_pscore == 0.0
    assert d.share_clipped == 0.0
    assert effective_sample_size(np.array([1.6, 2.0, 0.25])) == pytest.approx(2.2382031, abs=1e-6)
    clipped = InverseProbabilityWeighting(max_weight=1.5).estimate_interval(
        REWARD, ACTION, PSCORE, ACTION_DIST, random_state=0, n_bootstrap_samples=50
    )
    assert clipped.diagnostics.share_clipped == pytest.approx(2 / 3)
    assert clipped.ci_lower <= clipped.estimate <= clipped.ci_upper


def test_golden_session_estimates() -> None:
    # Sessions 7 (steps 0, 1) and 9 (step 0); rows given out of order on purpose.
    #   rows (session, step, w, r): (7, 0, 1.6, 1), (7, 1, 2.0, 0.5), (9, 0, 0.25, 1)
    #   cumulative rho: session 7: [1.6, 3.2]; session 9: [0.25]
    #   PDIS  = ((1.6*1 + 3.2*0.5) + 0.25*1) / 2 = 3.45 / 2 = 1.725
    #   WPDIS: step 0: (1.6 + 0.25) / (1.6 + 0.25) = 1
    #          step 1: (3.2*0.5 + 0) / (3.2 + 0.25 carried) = 1.6 / 3.45 = 0.463768116
    #          total 1.463768116
    order = np.array([2, 0, 1])
    args = {
        "reward": np.array([1.0, 0.5, 1.0])[order],
        "session_id": np.array([7, 7, 9])[order],
        "step": np.array([0, 1, 0])[order],
        "action": ACTION[order],
        "pscore": PSCORE[order],
        "action_dist": ACTION_DIST[order],
    }
    pdis = PerDecisionImportanceSampling().estimate_policy_value(**args)
    wpdis = PerDecisionImportanceSampling(self_normalized=True).estimate_policy_value(**args)
    assert pdis == pytest.approx(1.725, abs=TOL)
    assert wpdis == pytest.approx(1.0 + 1.6 / 3.45, abs=TOL)
    res = PerDecisionImportanceSampling().estimate_interval(
        **args, random_state=0, n_bootstrap_samples=20
    )
    assert res.level == "session"
    assert res.n_rounds == 2  # sessions
    assert res.diagnostics.max_weight == pytest.approx(3.2)


@st.composite
def _logs(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n_rounds = draw(st.integers(1, 30))
    n_actions = draw(st.integers(1, 6))
    raw = draw(arrays(np.float64, (n_rounds, n_actions), elements=st.floats(0.01, 10.0, width=64)))
    dist = raw / raw.sum(axis=1, keepdims=True)
    action = np.array(
        [draw(st.integers(0, n_actions - 1)) for _ in range(n_rounds)], dtype=np.int64
    )
    reward = draw(arrays(np.float64, n_rounds, elements=st.floats(-100.0, 100.0, width=64)))
    return dist, action, reward


@settings(max_examples=60, deadline=None)
@given(_logs())
def test_ips_with_logging_policy_equals_on_policy_mean(log: tuple[np.ndarray, ...]) -> None:
    dist, action, reward = log
    pscore = dist[np.arange(action.size), action]
    for est in (InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting()):
        value = est.estimate_policy_value(reward, action, pscore, dist[:, :, None])
        assert value == pytest.approx(reward.mean(), rel=1e-9, abs=1e-9)
    # Session level too: every cumulative weight is 1, so PDIS is the mean session total.
    session = np.arange(action.size) // 3
    pdis = PerDecisionImportanceSampling().estimate_policy_value(
        reward, session, None, action, pscore, dist[:, :, None]
    )
    totals = np.bincount(session, weights=reward)
    assert pdis == pytest.approx(totals.mean(), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(_logs(), st.integers(0, 2**32 - 1))
def test_sparse_and_dense_agree(log: tuple[np.ndarray, ...], seed: int) -> None:
    dist, action, reward = log
    rng = np.random.default_rng(seed)
    pscore = rng.uniform(0.05, 1.0, size=action.size)
    q = rng.random(dist.shape)
    sparse = SparseActionDist.from_dense(dist[:, :, None], n_cand=dist.shape[1])
    q_sparse = np.take_along_axis(q, sparse.candidates, axis=1)
    np.testing.assert_allclose(sparse.to_dense(dist.shape[1])[:, :, 0], dist, atol=1e-12)
    for est, _ in GOLDEN:
        dense_v = est.estimate_policy_value(
            reward, action, pscore, dist[:, :, None], None, q[:, :, None]
        )
        sparse_v = est.estimate_policy_value(reward, action, pscore, sparse, None, q_sparse)
        assert sparse_v == pytest.approx(dense_v, rel=1e-9, abs=1e-9)
