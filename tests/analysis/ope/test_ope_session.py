"""Per-decision importance sampling of session rewards."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.ope import PerDecisionImportanceSampling, SyntheticBandit, reduce_sessions


def test_cumulative_weights_reset_per_session_and_handle_zero() -> None:
    # sessions 1: w = [2, 0, 3] -> rho = [2, 0, 0]; session 2: w = [0.5, 4] -> [0.5, 2]
    s = reduce_sessions(
        session_id=[1, 1, 1, 2, 2],
        step=[0, 1, 2, 0, 1],
        reward=np.ones(5),
        pscore=[0.5, 0.5, 0.25, 1.0, 0.25],
        pi_e_factual=[1.0, 0.0, 0.75, 0.5, 1.0],
    )
    np.testing.assert_allclose(s.cum_weight, [2.0, 0.0, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(s.final_weight, [0.0, 2.0])
    assert s.step_index.tolist() == [0, 1, 2, 0, 1]


def test_row_order_does_not_matter() -> None:
    b = SyntheticBandit.build(n_actions=5, n_context_types=10, rng=0)
    log = b.sample_sessions(300, 5, rng=1)
    dist = b.action_dist(b.softmax_policy(2.0), log.context_type)
    perm = np.random.default_rng(2).permutation(log.n_rounds)
    assert log.session_id is not None
    assert log.step is not None
    for est in (
        PerDecisionImportanceSampling(),
        PerDecisionImportanceSampling(self_normalized=True),
    ):
        a = est.estimate_policy_value(
            log.reward, log.session_id, log.step, log.action, log.pscore, dist
        )
        assert log.session_id is not None
        assert log.step is not None
        c = est.estimate_policy_value(
            log.reward[perm],
            log.session_id[perm],
            log.step[perm],
            log.action[perm],
            log.pscore[perm],
            dist[perm],
        )
        assert a == pytest.approx(c, rel=1e-12)


def test_clipping_bounds_each_step_weight() -> None:
    s_clip = reduce_sessions([1, 1], [0, 1], [1.0, 1.0], [0.1, 0.1], [1.0, 1.0], max_weight=3.0)
    np.testing.assert_allclose(s_clip.cum_weight, [3.0, 9.0])
    np.testing.assert_allclose(s_clip.final_weight, [100.0])  # diagnostics see the raw weight
