"""Candidate-set action distributions."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.ope import DoublyRobust, InverseProbabilityWeighting, SparseActionDist


def test_huge_item_ids_need_no_catalogue_sized_memory() -> None:
    # Item ids near 10^12: a dense (n_rounds, n_catalogue) array could not be allocated.
    base = 10**12
    cand = np.array([[base + 5, base + 9], [base + 9, base + 1]])
    dist = SparseActionDist(cand, np.array([[0.25, 0.75], [0.5, 0.5]]))
    action = np.array([base + 9, base + 7])  # round 1's action is not a candidate
    # w = [0.75 / 0.5, 0 / 0.5] = [1.5, 0]; IPS = (1.5 * 1 + 0 * 1) / 2 = 0.75
    value = InverseProbabilityWeighting().estimate_policy_value(
        np.array([1.0, 1.0]), action, np.array([0.5, 0.5]), dist
    )
    assert value == pytest.approx(0.75)
    # DR with q = [[0.2, 0.4], [0.6, 0.8]]: q_pi = [0.25*0.2 + 0.75*0.4, 0.5*0.6 + 0.5*0.8]
    # = [0.35, 0.7]; factual q at logged action = [0.4, (absent)]; correction = 1.5 * 0.6
    # = 0.9 and 0; DR = (0.35 + 0.9 + 0.7) / 2 = 0.975
    q = np.array([[0.2, 0.4], [0.6, 0.8]])
    dr = DoublyRobust().estimate_policy_value(
        np.array([1.0, 1.0]), action, np.array([0.5, 0.5]), dist, None, q
    )
    assert dr == pytest.approx(0.975)


def test_positions_select_the_right_slot() -> None:
    cand = np.array([[3, 4], [3, 4]])
    probs = np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.5, 0.5], [0.5, 0.5]]])  # (2, 2 cand, 2 pos)
    dist = SparseActionDist(cand, probs)
    assert dist.len_list == 2
    p = dist.prob_of(np.array([3, 4]), np.array([1, 0]))
    np.testing.assert_allclose(p, [0.1, 0.5])
    dense = dist.to_dense(5)
    assert dense.shape == (2, 5, 2)
    np.testing.assert_allclose(dense.sum(axis=1), 1.0)


def test_from_dense_refuses_to_drop_mass() -> None:
    dense = np.array([[[0.5], [0.3], [0.2]]])
    with pytest.raises(AnalysisError, match=r"n_cand == 2 drops up to 0\.2"):
        SparseActionDist.from_dense(dense, n_cand=2)
    kept = SparseActionDist.from_dense(dense, n_cand=3)
    assert kept.candidates.tolist() == [[0, 1, 2]]


def test_expectation_rejects_misaligned_values() -> None:
    dist = SparseActionDist(np.array([[0, 1]]), np.array([[0.5, 0.5]]))
    with pytest.raises(AnalysisError, match=r"estimated_rewards_by_reg_model has shape \(1, 3\)"):
        dist.expectation(np.zeros((1, 3)))
