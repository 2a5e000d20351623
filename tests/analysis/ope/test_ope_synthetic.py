"""The synthetic bandit: exact truth, correct propensities, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.ope import SyntheticBandit


def test_policy_value_is_the_exact_finite_sum() -> None:
    b = SyntheticBandit.build(n_actions=3, n_context_types=2, rng=0)
    pi = b.softmax_policy(0.7)
    by_hand = sum(
        b.context_prob[c] * sum(pi[c, a] * b.expected_reward[c, a] for a in range(3))
        for c in range(2)
    )
    assert b.policy_value(pi) == pytest.approx(by_hand, abs=1e-15)


def test_logged_mean_reward_matches_behaviour_value() -> None:
    b = SyntheticBandit.build(n_actions=8, n_context_types=30, rng=1)
    log = b.sample(200_000, rng=2)
    v = b.policy_value(b.behavior_policy)
    # Rewards are iid Bernoulli(v) marginally: the count lies in the exact 99.9% band.
    low, high = stats.binom.ppf([0.0005, 0.9995], 200_000, v)
    assert low <= log.reward.sum() <= high
    np.testing.assert_allclose(log.pscore, b.behavior_policy[log.context_type, log.action])
    np.testing.assert_allclose(log.expected_reward, b.expected_reward[log.context_type, log.action])


def test_action_frequencies_follow_the_behaviour_policy() -> None:
    b = SyntheticBandit.build(n_actions=5, n_context_types=1, rng=4)
    log = b.sample(50_000, rng=5)
    counts = np.bincount(log.action, minlength=5)
    chi2 = stats.chisquare(counts, 50_000 * b.behavior_policy[0])
    assert chi2.pvalue > 0.001


def test_same_seed_same_log_other_seed_other_log() -> None:
    b = SyntheticBandit.build(rng=6)
    a, c, d = b.sample(1000, rng=7), b.sample(1000, rng=7), b.sample(1000, rng=8)
    np.testing.assert_array_equal(a.action, c.action)
    np.testing.assert_array_equal(a.reward, c.reward)
    assert not np.array_equal(a.action, d.action)


def test_sessions_stop_at_the_first_zero_reward() -> None:
    b = SyntheticBandit.build(n_actions=4, n_context_types=5, rng=9)
    log = b.sample_sessions(500, max_steps=4, rng=10)
    assert log.session_id is not None
    assert log.step is not None
    for s in range(500):
        r = log.reward[log.session_id == s]
        steps = log.step[log.session_id == s]
        assert steps.tolist() == list(range(r.size))
        assert np.all(r[:-1] == 1.0)  # only the last step may be a skip
        assert r.size == 4 or r[-1] == 0.0
    v = b.policy_value(b.behavior_policy)
    assert b.session_value(b.behavior_policy, 3) == pytest.approx(v + v**2 + v**3)


def test_sparse_and_dense_dist_of_a_table_agree() -> None:
    b = SyntheticBandit.build(n_actions=6, n_context_types=4, rng=11)
    eg = b.epsilon_greedy_policy(0.0)  # one candidate with mass per context
    ct = np.array([0, 3, 2])
    sparse = b.sparse_action_dist(eg, ct)
    assert sparse.n_cand == 1
    np.testing.assert_allclose(sparse.to_dense(6), b.action_dist(eg, ct))
