"""Conformance checks run over every estimator: seeds, row order, batch-size independence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analysis.ope import (
    BaseOffPolicyEstimator,
    PerDecisionImportanceSampling,
    SyntheticBandit,
    default_estimators,
    default_session_estimators,
)

BANDIT = SyntheticBandit.build(n_actions=8, n_context_types=30, rng=0)
POLICY = BANDIT.softmax_policy(2.0)
LOG = BANDIT.sample_sessions(400, 4, rng=1)
DIST = BANDIT.action_dist(POLICY, LOG.context_type)
Q = BANDIT.reward_table_dist(LOG.context_type) * 0.9  # a deliberately imperfect model
ARGS: dict[str, Any] = {
    "reward": LOG.reward,
    "action": LOG.action,
    "pscore": LOG.pscore,
    "action_dist": DIST,
    "estimated_rewards_by_reg_model": Q,
}


def _permuted(perm: np.ndarray) -> dict[str, Any]:
    return {k: v[perm] for k, v in ARGS.items()}


@pytest.mark.parametrize("est", default_estimators(), ids=lambda e: e.estimator_name)
def test_check_estimator(est: BaseOffPolicyEstimator) -> None:
    value = est.estimate_policy_value(**ARGS)
    assert np.isfinite(value)
    # Row order does not matter for the point estimate.
    perm = np.random.default_rng(2).permutation(LOG.n_rounds)
    assert est.estimate_policy_value(**_permuted(perm)) == pytest.approx(value, rel=1e-12)
    # Same seed, same interval; another seed, another interval.
    a = est.estimate_interval(**ARGS, n_bootstrap_samples=60, random_state=3)
    b = est.estimate_interval(**ARGS, n_bootstrap_samples=60, random_state=3)
    c = est.estimate_interval(**ARGS, n_bootstrap_samples=60, random_state=4)
    assert (a.ci_lower, a.ci_upper) == (b.ci_lower, b.ci_upper)
    assert (a.ci_lower, a.ci_upper) != (c.ci_lower, c.ci_upper)
    assert a.estimate == value
    assert a.ci_lower < a.ci_upper
    assert a.random_state == 3
    # The per-round rewards average to the estimate.
    rr = est._estimate_round_rewards(**ARGS)
    assert rr.mean() == pytest.approx(value, rel=1e-12)
    # The estimator is an immutable record.
    with pytest.raises(AttributeError):
        est.max_weight = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("est", default_session_estimators(), ids=lambda e: e.estimator_name)
def test_check_session_estimator(est: PerDecisionImportanceSampling) -> None:
    assert LOG.session_id is not None
    assert LOG.step is not None
    args = (LOG.reward, LOG.session_id, LOG.step, LOG.action, LOG.pscore, DIST)
    a = est.estimate_interval(*args, n_bootstrap_samples=60, random_state=3)
    b = est.estimate_interval(*args, n_bootstrap_samples=60, random_state=3)
    c = est.estimate_interval(*args, n_bootstrap_samples=60, random_state=4)
    assert a == b
    assert (a.ci_lower, a.ci_upper) != (c.ci_lower, c.ci_upper)
    assert a.n_rounds == 400
    assert a.ci_lower < a.estimate < a.ci_upper
