"""The direct method: the reward model's value of the evaluation policy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.ope.base import BaseOffPolicyEstimator, RoundInputs, require_reward_model


@dataclass(frozen=True)
class DirectMethod(BaseOffPolicyEstimator):
    r"""Direct method (DM): average the reward model over the evaluation policy.

    .. math::

        \hat V_{\mathrm{DM}}(\pi_e) = \frac{1}{n} \sum_{i=1}^{n} \sum_{a}
        \pi_e(a \mid x_i)\, \hat q(x_i, a)

    Uses no importance weights, so it has low variance, but it is biased as far as the
    reward model ``q_hat`` is wrong (Beygelzimer and Langford 2009; Dudik, Langford and Li
    2011). ``max_weight`` has no effect on the estimate; the diagnostics still describe the
    weights, so a reader sees the overlap the model had to extrapolate over.
    """

    estimator_name: str = "dm"
    requires_reward_model = True

    def round_columns(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """One column: ``q_hat(x_i, pi_e)``."""
        _, q_pi = require_reward_model(inputs, type(self).__name__)
        return q_pi[:, None]
