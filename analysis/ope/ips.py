"""Inverse propensity weighting: IPS and its self-normalised form SNIPS.

Both reweight the logged rewards by the importance weight
``w_i = pi_e(a_i | x_i) / pi_b(a_i | x_i)`` (optionally clipped at ``max_weight``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.ope.base import BaseOffPolicyEstimator, RoundInputs


@dataclass(frozen=True)
class InverseProbabilityWeighting(BaseOffPolicyEstimator):
    r"""Inverse propensity score (IPS) estimator.

    .. math::

        \hat V_{\mathrm{IPS}}(\pi_e) = \frac{1}{n} \sum_{i=1}^{n} w_i r_i, \qquad
        w_i = \min\Big(\frac{\pi_e(a_i \mid x_i)}{\pi_b(a_i \mid x_i)}, \lambda\Big)

    Unbiased when ``lambda = inf`` and ``pi_b`` covers the support of ``pi_e``
    (Horvitz and Thompson 1952; Precup, Sutton and Singh 2000); clipping at ``lambda``
    (``max_weight``) trades bias for variance (Strehl et al. 2010).

    Examples:
        >>> est = InverseProbabilityWeighting()
        >>> dist = np.array([[[0.5], [0.5]], [[1.0], [0.0]]])
        >>> est.estimate_policy_value(
        ...     reward=[1.0, 0.0], action=[0, 0], pscore=[0.25, 0.5], action_dist=dist
        ... )
        1.0
    """

    estimator_name: str = "ipw"

    def round_columns(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """One column: ``w_i r_i``."""
        return (self.clipped_weight(inputs) * inputs.reward)[:, None]


@dataclass(frozen=True)
class SelfNormalizedInverseProbabilityWeighting(BaseOffPolicyEstimator):
    r"""Self-normalised IPS (SNIPS), the weighted importance sampling estimator.

    .. math::

        \hat V_{\mathrm{SNIPS}}(\pi_e) = \frac{\sum_{i=1}^{n} w_i r_i}{\sum_{i=1}^{n} w_i}

    Consistent but biased for finite ``n``; bounded by the reward range and usually of
    lower variance than IPS (Hesterberg 1995; Swaminathan and Joachims 2015, "The
    Self-Normalized Estimator for Counterfactual Learning"). Undefined (``nan``) when every
    weight is zero.
    """

    estimator_name: str = "snipw"

    def round_columns(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """Two columns: ``w_i r_i`` and ``w_i``."""
        w = self.clipped_weight(inputs)
        return np.column_stack([w * inputs.reward, w])

    def combine(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        """``mean(w r) / mean(w)``."""
        return means[..., 0] / means[..., 1]

    def round_rewards(self, inputs: RoundInputs) -> NDArray[np.float64]:
        """``w_i r_i / mean(w)``: their mean is the estimate."""
        w = self.clipped_weight(inputs)
        return w * inputs.reward / w.mean()
