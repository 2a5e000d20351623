"""Bad input: each a clear AnalysisError that names the argument (a table test)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.ope import (
    DirectMethod,
    DoublyRobust,
    DoublyRobustWithShrinkage,
    InverseProbabilityWeighting,
    PerDecisionImportanceSampling,
    RidgeRewardModel,
    SparseActionDist,
    SwitchDoublyRobust,
    bootstrap_column_means,
)

N, K = 4, 3
GOOD: dict[str, Any] = {
    "reward": np.array([1.0, 0.0, 1.0, 0.0]),
    "action": np.array([0, 1, 2, 0]),
    "pscore": np.array([0.5, 0.25, 0.8, 0.1]),
    "action_dist": np.full((N, K, 1), 1.0 / K),
    "estimated_rewards_by_reg_model": np.full((N, K, 1), 0.5),
}


def _with(**changes: Any) -> dict[str, Any]:
    args = dict(GOOD)
    args.update(changes)
    return args


def _dist_with(i: int, a: int, value: float) -> np.ndarray:
    dist = GOOD["action_dist"].copy()
    dist[i, a, 0] = value
    return dist


BAD_INPUTS = [
    (_with(pscore=np.array([0.5, 0.0, 0.8, 0.1])), r"pscore\[1\] == 0\.0, must be in \(0, 1\]"),
    (_with(pscore=np.array([0.5, 0.2, 1.5, 0.1])), r"pscore\[2\] == 1\.5, must be in \(0, 1\]"),
    (_with(pscore=np.array([0.5, -0.2, 0.5, 0.1])), r"pscore\[1\] == -0\.2"),
    (_with(pscore=np.array([0.5, np.nan, 0.5, 0.1])), r"pscore\[1\] == nan, must be finite"),
    (_with(reward=np.array([1.0, np.nan, 1.0, 0.0])), r"reward\[1\] == nan, must be finite"),
    (_with(reward=np.array([1.0, 0.0, np.inf, 0.0])), r"reward\[2\] == inf, must be finite"),
    (_with(reward=np.ones(5)), r"action has 4 rounds but reward has 5"),
    (_with(pscore=np.full(3, 0.5)), r"pscore has 3 rounds but reward has 4"),
    (_with(action=np.array([0, 1, 2])), r"action has 3 rounds but reward has 4"),
    (_with(action_dist=np.full((5, K, 1), 1.0 / K)), r"action_dist has 5 rounds but action has 4"),
    (
        _with(action_dist=np.full((N, K), 1.0 / K)),
        r"action_dist must have shape \(n_rounds, n_actions, len_list\)",
    ),
    (
        _with(action_dist=_dist_with(2, 0, 0.5)),
        r"action_dist must sum to 1 over actions: action_dist\[2, :, 0\]\.sum\(\) == 1\.16667",
    ),
    (
        _with(action_dist=np.full((N, K, 1), 0.3)),
        r"action_dist must sum to 1 over actions.*4 such rows",
    ),
    (_with(action_dist=_dist_with(0, 1, -0.1)), r"action_dist\[0, 1, 0\] == -0\.1, must be >= 0"),
    (_with(action=np.array([0, 1, 3, 0])), r"action\[2\] == 3, must be in \[0, 3\)"),
    (_with(action=np.array([0.5, 1, 2, 0])), r"action must hold integers"),
    (_with(position=np.array([0, 1, 0, 0])), r"position\[1\] == 1, must be in \[0, 1\)"),
    (
        _with(estimated_rewards_by_reg_model=np.full((N, K + 1, 1), 0.5)),
        r"estimated_rewards_by_reg_model has shape \(4, 4, 1\), must equal action_dist's \(4, 3, 1\)",
    ),
    (
        _with(estimated_rewards_by_reg_model=np.full((N, K, 1), np.nan)),
        r"estimated_rewards_by_reg_model\[0, 0, 0\] == nan",
    ),
    (
        _with(estimated_rewards_by_reg_model=None),
        r"estimated_rewards_by_reg_model is None, but DoublyRobust needs",
    ),
]


@pytest.mark.parametrize(("args", "pattern"), BAD_INPUTS)
def test_bad_input_names_the_argument(args: dict[str, Any], pattern: str) -> None:
    with pytest.raises(AnalysisError, match=pattern):
        DoublyRobust().estimate_policy_value(**args)


def test_analysis_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="pscore"):
        InverseProbabilityWeighting().estimate_policy_value(
            **_with(pscore=np.zeros(N), estimated_rewards_by_reg_model=None)
        )


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (
            lambda: InverseProbabilityWeighting(max_weight=-1.0),
            r"max_weight == -1\.0, must be a number >= 0",
        ),
        (lambda: SwitchDoublyRobust(tau=-2.0), r"tau == -2\.0, must be a number >= 0"),
        (lambda: DoublyRobustWithShrinkage(lambda_=float("nan")), r"lambda_ == nan"),
        (lambda: PerDecisionImportanceSampling(max_weight=-1), r"max_weight == -1"),
        (lambda: RidgeRewardModel(alpha=0.0), r"alpha == 0\.0, must be > 0"),
        (
            lambda: SparseActionDist(np.array([[0, 1]]), np.array([[0.5, 0.6]])),
            r"probs must sum to 1 over candidates: probs\[0, :, 0\]\.sum\(\) == 1\.1",
        ),
        (
            lambda: SparseActionDist(np.array([[0, 0]]), np.array([[0.5, 0.5]])),
            r"candidates\[0\] repeats an id",
        ),
        (
            lambda: SparseActionDist(np.array([[0, -1]]), np.array([[0.5, 0.5]])),
            r"probs\[0, 1, 0\] == 0\.5 on a padded candidate",
        ),
        (
            lambda: SparseActionDist(np.array([[0, 1]]), np.array([[0.5, 0.5, 0.0]])),
            r"probs has shape \(1, 3\), must be",
        ),
        (
            lambda: SparseActionDist(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])),
            r"candidates must hold integer ids",
        ),
        (
            lambda: bootstrap_column_means(np.ones((3, 1)), 0),
            r"n_bootstrap_samples == 0, must be an integer >= 1",
        ),
        (
            lambda: InverseProbabilityWeighting().estimate_interval(
                **_with(estimated_rewards_by_reg_model=None), alpha=1.5
            ),
            r"alpha == 1\.5, must be in \(0, 1\)",
        ),
        (
            lambda: DirectMethod().estimate_policy_value(
                **_with(estimated_rewards_by_reg_model=None)
            ),
            r"estimated_rewards_by_reg_model is None, but DirectMethod needs",
        ),
        (
            lambda: PerDecisionImportanceSampling().estimate_policy_value(
                reward=GOOD["reward"],
                session_id=np.array([1, 1, 2, 2]),
                step=np.array([0, 0, 0, 1]),
                action=GOOD["action"],
                pscore=GOOD["pscore"],
                action_dist=GOOD["action_dist"],
            ),
            r"step repeats 0 in session_id 1",
        ),
    ],
)
def test_bad_configuration_names_the_parameter(make: Any, pattern: str) -> None:
    with pytest.raises(AnalysisError, match=pattern):
        make()


def test_sparse_dist_with_wrong_round_count() -> None:
    sparse = SparseActionDist(np.array([[0, 1]] * 3), np.full((3, 2), 0.5))
    with pytest.raises(AnalysisError, match=r"action_dist has 3 rounds but reward has 4"):
        InverseProbabilityWeighting().estimate_policy_value(
            GOOD["reward"], GOOD["action"], GOOD["pscore"], sparse
        )
