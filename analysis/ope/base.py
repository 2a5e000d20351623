"""The estimator base class and the reduction of a log to the per-round numbers OPE needs.

Every estimator here uses, per round ``i`` of a log collected by a behaviour policy
``pi_b``, at most five numbers: the reward ``r_i``, the logged propensity
``pscore_i = pi_b(a_i | x_i)``, the evaluation policy's probability of the logged action
``pi_e(a_i | x_i)``, and (for model-based estimators) the reward model at the logged action
``q(x_i, a_i)`` and its expectation under the evaluation policy
``q(x_i, pi_e) = sum_a pi_e(a | x_i) q(x_i, a)``. :func:`reduce_inputs` computes them once
from Open Bandit Pipeline's arguments (a dense ``action_dist`` of shape ``(n_rounds,
n_actions, len_list)``, or a :class:`~analysis.ope.sparse.SparseActionDist`), validating
every argument; the estimators then work on vectors of length ``n_rounds``.

Each estimator is a function of column means: :meth:`BaseOffPolicyEstimator.round_columns`
returns the per-round columns and :meth:`BaseOffPolicyEstimator.combine` maps their means
to the estimate. The same pair drives the point estimate and the vectorised bootstrap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError
from analysis.ope._checks import (
    as_float_array,
    as_int_array,
    check_length,
    check_probabilities,
    check_pscore,
    check_range,
    check_weight_bound,
)
from analysis.ope.bootstrap import BootstrapMethod, RandomState, estimate_with_interval
from analysis.ope.diagnostics import DEFAULT_TINY_PSCORE, OverlapDiagnostics, overlap_diagnostics
from analysis.ope.results import OPEEstimate
from analysis.ope.sparse import SparseActionDist

ActionDist = NDArray[np.float64] | SparseActionDist


@dataclass(frozen=True, eq=False)
class RoundInputs:
    """The per-round numbers every estimator works on (validated, length ``n_rounds``).

    Attributes:
        reward: Observed rewards ``r_i``.
        pscore: Logged propensities ``pi_b(a_i | x_i)`` in (0, 1].
        pi_e_factual: Evaluation policy's probability of the logged action at the logged
            position, ``pi_e(a_i | x_i)``.
        q_hat_factual: Reward model at the logged action ``q(x_i, a_i)``, or None.
        q_hat_pi: Reward model's expectation under the evaluation policy
            ``sum_a pi_e(a | x_i) q(x_i, a)``, or None.
    """

    reward: NDArray[np.float64]
    pscore: NDArray[np.float64]
    pi_e_factual: NDArray[np.float64]
    q_hat_factual: NDArray[np.float64] | None = None
    q_hat_pi: NDArray[np.float64] | None = None

    @property
    def n_rounds(self) -> int:
        """Number of rounds."""
        return int(self.reward.shape[0])

    @property
    def weight(self) -> NDArray[np.float64]:
        """Unclipped importance weights ``pi_e(a_i | x_i) / pi_b(a_i | x_i)``."""
        return self.pi_e_factual / self.pscore

    def subset(self, mask: NDArray[np.bool_]) -> RoundInputs:
        """The rounds where ``mask`` is True (for cohorts)."""
        return RoundInputs(
            reward=self.reward[mask],
            pscore=self.pscore[mask],
            pi_e_factual=self.pi_e_factual[mask],
            q_hat_factual=None if self.q_hat_factual is None else self.q_hat_factual[mask],
            q_hat_pi=None if self.q_hat_pi is None else self.q_hat_pi[mask],
        )


def _reduce_dense(
    action: NDArray[np.int64],
    action_dist: Any,
    position: NDArray[np.int64] | None,
    q_hat: Any,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64] | None]:
    dist = np.asarray(action_dist, dtype=np.float64)
    if dist.ndim != 3:
        raise AnalysisError(
            f"action_dist must have shape (n_rounds, n_actions, len_list), got {dist.shape}"
        )
    n_rounds, n_actions, len_list = dist.shape
    check_length(dist, "action_dist", action.shape[0], "action")
    check_probabilities(dist, "action_dist", axis=1)
    check_range(action, "action", 0, n_actions)
    rows = np.arange(n_rounds)
    if position is None:
        position = np.zeros(n_rounds, np.int64)
    check_range(position, "position", 0, len_list)
    pi_e_factual = dist[rows, action, position]
    if q_hat is None:
        return pi_e_factual, None, None
    q = as_float_array(q_hat, "estimated_rewards_by_reg_model", 3)
    if q.shape != dist.shape:
        raise AnalysisError(
            f"estimated_rewards_by_reg_model has shape {q.shape}, must equal action_dist's "
            f"{dist.shape}"
        )
    q_factual = q[rows, action, position]
    if len_list == 1:
        # Views, no copy: the (n_rounds, n_actions) slices of contiguous arrays.
        q_pi = np.einsum("ij,ij->i", dist[:, :, 0], q[:, :, 0])
    else:
        q_pi = np.einsum("ij,ij->i", dist[rows, :, position], q[rows, :, position])
    return pi_e_factual, q_factual, q_pi


def reduce_inputs(
    reward: ArrayLike,
    action: ArrayLike,
    pscore: ArrayLike,
    action_dist: ActionDist,
    position: ArrayLike | None = None,
    estimated_rewards_by_reg_model: ArrayLike | None = None,
) -> RoundInputs:
    """Validate Open Bandit Pipeline style arguments and reduce them to :class:`RoundInputs`.

    Args:
        reward: Observed rewards, shape ``(n_rounds,)``, finite.
        action: Logged actions, shape ``(n_rounds,)``; indices into ``action_dist``'s
            action axis (dense) or item ids (sparse).
        pscore: Logged propensities ``pi_b(a_i | x_i)``, shape ``(n_rounds,)``, in (0, 1].
        action_dist: Evaluation policy, dense ``(n_rounds, n_actions, len_list)`` summing
            to one over actions, or a :class:`SparseActionDist`.
        position: Position of each logged action in the list, shape ``(n_rounds,)``;
            None means every round is position 0.
        estimated_rewards_by_reg_model: Reward model predictions, same shape as the dense
            ``action_dist``, or aligned with the sparse candidates ``(n_rounds, n_cand)``.

    Returns:
        The reduced, validated inputs.

    Raises:
        AnalysisError: An argument breaks a rule; the message names it.
    """
    reward_arr = as_float_array(reward, "reward", 1)
    n_rounds = int(reward_arr.shape[0])
    action_arr = as_int_array(action, "action")
    check_length(action_arr, "action", n_rounds, "reward")
    pscore_arr = as_float_array(pscore, "pscore", 1)
    check_length(pscore_arr, "pscore", n_rounds, "reward")
    check_pscore(pscore_arr)
    position_arr = None if position is None else as_int_array(position, "position")
    if position_arr is not None:
        check_length(position_arr, "position", n_rounds, "reward")
        check_range(position_arr, "position", 0, np.iinfo(np.int64).max)
    if isinstance(action_dist, SparseActionDist):
        check_length(action_dist.candidates, "action_dist", n_rounds, "reward")
        pi_e_factual = action_dist.prob_of(action_arr, position_arr)
        q_factual = q_pi = None
        if estimated_rewards_by_reg_model is not None:
            q = as_float_array(
                estimated_rewards_by_reg_model,
                "estimated_rewards_by_reg_model",
                np.ndim(estimated_rewards_by_reg_model),
            )
            q_pi = action_dist.expectation(q, position_arr)
            # Where the logged action is not a candidate, pi_e(a_i|x_i) = 0, so the value
            # at the logged action only ever enters multiplied by a zero weight.
            q_factual = action_dist.value_of(q, action_arr)
    else:
        pi_e_factual, q_factual, q_pi = _reduce_dense(
            action_arr, action_dist, position_arr, estimated_rewards_by_reg_model
        )
    return RoundInputs(reward_arr, pscore_arr, pi_e_factual, q_factual, q_pi)


@dataclass(frozen=True)
class BaseOffPolicyEstimator(ABC):
    """Base of the off-policy estimators (Open Bandit Pipeline's interface).

    Subclasses define :meth:`round_columns` and, if the estimate is not the mean of the
    first column, :meth:`combine`.

    Attributes:
        max_weight: Clip importance weights at this value, ``w = min(w, max_weight)``
            (Strehl et al. 2010; Ionides 2008); ``inf`` means no clipping.
        estimator_name: Short name used in results.
    """

    max_weight: float = np.inf
    estimator_name: str = "base"

    #: Whether the estimator needs ``estimated_rewards_by_reg_model``.
    requires_reward_model = False

    def __post_init__(self) -> None:
        check_weight_bound(self.max_weight, "max_weight")

    # -- the estimator's definition --------------------------------------------------------

    def clipped_weight(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """Importance weights after clipping at ``max_weight``."""
        w = inputs.weight
        return w if np.isinf(self.max_weight) else np.minimum(w, self.max_weight)

    @abstractmethod
    def round_columns(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """Per-round columns whose means :meth:`combine` maps to the estimate, ``(n, k)``."""

    def combine(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map column means ``(..., k)`` to estimates ``(...)``; default: the first column."""
        return means[..., 0]

    def round_rewards(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """Per-round contributions whose mean is the estimate (linear estimators)."""
        return self.round_columns(inputs)[:, 0]

    # -- Open Bandit Pipeline's interface --------------------------------------------------

    def _reduce(
        self,
        reward: ArrayLike,
        action: ArrayLike,
        pscore: ArrayLike,
        action_dist: ActionDist,
        position: ArrayLike | None,
        estimated_rewards_by_reg_model: ArrayLike | None,
    ) -> RoundInputs:
        if self.requires_reward_model and estimated_rewards_by_reg_model is None:
            raise AnalysisError(
                f"estimated_rewards_by_reg_model is None, but {type(self).__name__} needs "
                "a reward model's predictions"
            )
        if not self.requires_reward_model:
            estimated_rewards_by_reg_model = None
        return reduce_inputs(
            reward, action, pscore, action_dist, position, estimated_rewards_by_reg_model
        )

    def _estimate_round_rewards(
        self,
        reward: ArrayLike,
        action: ArrayLike,
        pscore: ArrayLike,
        action_dist: ActionDist,
        position: ArrayLike | None = None,
        estimated_rewards_by_reg_model: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Per-round rewards whose mean is the estimate, shape ``(n_rounds,)``."""
        inputs = self._reduce(
            reward, action, pscore, action_dist, position, estimated_rewards_by_reg_model
        )
        return self.round_rewards(inputs)

    def estimate_policy_value(
        self,
        reward: ArrayLike,
        action: ArrayLike,
        pscore: ArrayLike,
        action_dist: ActionDist,
        position: ArrayLike | None = None,
        estimated_rewards_by_reg_model: ArrayLike | None = None,
    ) -> float:
        """Estimate the evaluation policy's value from the log (arguments as in
        :func:`reduce_inputs`)."""
        inputs = self._reduce(
            reward, action, pscore, action_dist, position, estimated_rewards_by_reg_model
        )
        return self.estimate_from_inputs(inputs)

    def estimate_interval(
        self,
        reward: ArrayLike,
        action: ArrayLike,
        pscore: ArrayLike,
        action_dist: ActionDist,
        position: ArrayLike | None = None,
        estimated_rewards_by_reg_model: ArrayLike | None = None,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 100,
        random_state: RandomState = None,
        *,
        method: BootstrapMethod = "multinomial",
        tiny_pscore: float = DEFAULT_TINY_PSCORE,
        reward_name: str = "reward",
    ) -> OPEEstimate:
        """The estimate with a percentile bootstrap ``1 - alpha`` interval and diagnostics.

        The rounds are resampled with replacement; self-normalised estimators are
        re-normalised within each resample. The reward model is held fixed (not refitted
        per resample), as in Open Bandit Pipeline.
        """
        inputs = self._reduce(
            reward, action, pscore, action_dist, position, estimated_rewards_by_reg_model
        )
        return self.interval_from_inputs(
            inputs,
            alpha=alpha,
            n_bootstrap_samples=n_bootstrap_samples,
            random_state=random_state,
            method=method,
            tiny_pscore=tiny_pscore,
            reward_name=reward_name,
        )

    # -- on reduced inputs (used by evaluate_logs and the sparse/session code) --------------

    def estimate_from_inputs(self, inputs: RoundInputs) -> float:
        """The point estimate from reduced inputs."""
        if inputs.n_rounds == 0:
            raise AnalysisError("reward has 0 rounds, need at least 1 to estimate a value")
        cols = self.round_columns(inputs)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(self.combine(cols.mean(axis=0)))

    def diagnostics(
        self, inputs: RoundInputs, tiny_pscore: float = DEFAULT_TINY_PSCORE
    ) -> OverlapDiagnostics:
        """Overlap diagnostics of this estimator's weights on ``inputs``."""
        return overlap_diagnostics(
            inputs.weight,
            inputs.pscore,
            used_weights=self.clipped_weight(inputs),
            tiny_pscore=tiny_pscore,
        )

    def interval_from_inputs(
        self,
        inputs: RoundInputs,
        *,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 100,
        random_state: RandomState = None,
        method: BootstrapMethod = "multinomial",
        tiny_pscore: float = DEFAULT_TINY_PSCORE,
        reward_name: str = "reward",
        cohort: str = "all",
    ) -> OPEEstimate:
        """:meth:`estimate_interval` on reduced inputs."""
        estimate = self.estimate_from_inputs(inputs)
        return estimate_with_interval(
            self.estimator_name,
            estimate,
            self.round_columns(inputs),
            self.combine,
            diagnostics=self.diagnostics(inputs, tiny_pscore),
            level="round",
            alpha=alpha,
            n_bootstrap_samples=n_bootstrap_samples,
            random_state=random_state,
            method=method,
            reward_name=reward_name,
            cohort=cohort,
        )


def require_reward_model(
    inputs: RoundInputs, name: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(q_hat_factual, q_hat_pi)`` or an error naming the missing argument."""
    if inputs.q_hat_factual is None or inputs.q_hat_pi is None:
        raise AnalysisError(
            f"estimated_rewards_by_reg_model is None, but {name} needs a reward model's predictions"
        )
    return inputs.q_hat_factual, inputs.q_hat_pi
