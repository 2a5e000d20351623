"""Doubly robust estimators: DR, SNDR, Switch-DR and DR with optimistic shrinkage.

All four add an importance-weighted correction of the reward model's residual to the
direct method,

    V = mean_i [ q(x_i, pi_e) + g(w_i) (r_i - q(x_i, a_i)) ],

and differ in the transform ``g`` of the importance weight ``w_i`` (after optional
clipping at ``max_weight``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.ope._checks import check_weight_bound
from analysis.ope.base import BaseOffPolicyEstimator, RoundInputs, require_reward_model


@dataclass(frozen=True)
class DoublyRobust(BaseOffPolicyEstimator):
    r"""Doubly robust (DR) estimator.

    .. math::

        \hat V_{\mathrm{DR}}(\pi_e) = \frac{1}{n} \sum_{i=1}^{n} \Big[\hat q(x_i, \pi_e)
        + w_i \big(r_i - \hat q(x_i, a_i)\big)\Big]

    Unbiased if either the propensities are exact or the reward model is (Dudik, Langford
    and Li 2011, "Doubly Robust Policy Evaluation and Learning"; Robins, Rotnitzky and Zhao
    1994).
    """

    estimator_name: str = "dr"
    requires_reward_model = True

    def transformed_weight(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """``g(w_i)``; the identity for DR."""
        return self.clipped_weight(inputs)

    def round_columns(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """One column: ``q(x_i, pi_e) + g(w_i) (r_i - q(x_i, a_i))``."""
        q_factual, q_pi = require_reward_model(inputs, type(self).__name__)
        g = self.transformed_weight(inputs)
        return (q_pi + g * (inputs.reward - q_factual))[:, None]


@dataclass(frozen=True)
class SelfNormalizedDoublyRobust(DoublyRobust):
    r"""Self-normalised doubly robust (SNDR) estimator.

    .. math::

        \hat V_{\mathrm{SNDR}}(\pi_e) = \frac{1}{n} \sum_{i=1}^{n} \hat q(x_i, \pi_e)
        + \frac{\sum_{i} w_i \big(r_i - \hat q(x_i, a_i)\big)}{\sum_i w_i}

    The correction term is normalised by the sum of the weights, as SNIPS normalises IPS
    (Kallus and Uehara 2019, "Intrinsically Efficient, Stable, and Bounded Off-Policy
    Evaluation for Reinforcement Learning"; Open Bandit Pipeline's SNDR).
    """

    estimator_name: str = "sndr"

    def round_columns(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """Three columns: ``q(x_i, pi_e)``, ``w_i (r_i - q(x_i, a_i))`` and ``w_i``."""
        q_factual, q_pi = require_reward_model(inputs, type(self).__name__)
        w = self.clipped_weight(inputs)
        return np.column_stack([q_pi, w * (inputs.reward - q_factual), w])

    def combine(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        """``mean(q_pi) + mean(w (r - q)) / mean(w)``."""
        return means[..., 0] + means[..., 1] / means[..., 2]

    def round_rewards(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """``q(x_i, pi_e) + w_i (r_i - q(x_i, a_i)) / mean(w)``."""
        cols = self.round_columns(inputs)
        return cols[:, 0] + cols[:, 1] / cols[:, 2].mean()


@dataclass(frozen=True)
class SwitchDoublyRobust(DoublyRobust):
    r"""Switch doubly robust (Switch-DR) estimator.

    .. math::

        \hat V_{\mathrm{SwitchDR}}(\pi_e; \tau) = \frac{1}{n} \sum_{i=1}^{n}
        \Big[\hat q(x_i, \pi_e) + w_i\, \mathbb{1}\{w_i \le \tau\}
        \big(r_i - \hat q(x_i, a_i)\big)\Big]

    Rounds whose weight exceeds ``tau`` fall back to the direct method (Wang, Agarwal and
    Dudik 2017, "Optimal and Adaptive Off-policy Evaluation in Contextual Bandits"; this is
    the DR-based form that Open Bandit Pipeline implements). ``tau = inf`` gives DR,
    ``tau = 0`` gives DM.

    Attributes:
        tau: The switching threshold on the importance weight, >= 0.
    """

    tau: float = np.inf
    estimator_name: str = "switch-dr"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_weight_bound(self.tau, "tau")

    def transformed_weight(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """``w_i`` where ``w_i <= tau`` (unclipped weight compared), else 0."""
        switch = inputs.weight <= self.tau
        return np.where(switch, self.clipped_weight(inputs), 0.0)


@dataclass(frozen=True)
class DoublyRobustWithShrinkage(DoublyRobust):
    r"""Doubly robust with optimistic shrinkage (DRos).

    .. math::

        \hat V_{\mathrm{DRos}}(\pi_e; \lambda) = \frac{1}{n} \sum_{i=1}^{n}
        \Big[\hat q(x_i, \pi_e) + \frac{\lambda w_i}{w_i^2 + \lambda}
        \big(r_i - \hat q(x_i, a_i)\big)\Big]

    The weight is shrunk towards zero, the more the larger it is; ``lambda = inf`` gives
    DR, ``lambda = 0`` gives DM (Su, Dimakopoulou, Krishnamurthy and Dudik 2020, "Doubly
    Robust Off-policy Evaluation with Shrinkage").

    Attributes:
        lambda_: The shrinkage hyperparameter, >= 0.
    """

    lambda_: float = np.inf
    estimator_name: str = "dr-os"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_weight_bound(self.lambda_, "lambda_")

    def transformed_weight(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """``lambda w / (w^2 + lambda)``, with the limits ``w`` (inf) and 0 (zero)."""
        w = self.clipped_weight(inputs)
        if np.isinf(self.lambda_):
            return w
        if self.lambda_ == 0.0:
            return np.zeros_like(w)
        return self.lambda_ * w / (w * w + self.lambda_)
