"""Overlap diagnostics reported with every OPE estimate.

Importance-weighted estimators are only as good as the overlap between the logging and the
evaluation policy. Three numbers tell a reader how far to trust an estimate:

* the effective sample size of the weights (Kish 1965),
  ``ESS = (sum_i w_i)^2 / sum_i w_i^2``: the number of on-policy rounds the weighted log is
  worth; ``ess_ratio = ESS / n_rounds``;
* the largest weight: one round with weight 500 moves the IPS mean by 500 / n_rounds rewards;
* the share of rounds whose logged propensity is tiny (below ``tiny_pscore``): they are the
  rounds that produce the large weights.

``mean_weight`` should be close to one when the evaluation policy puts all its mass on
actions the logging policy can take (``E_b[w] = 1``); a mean well below one signals
actions that the logging policy never takes (support deficiency), where IPS is biased.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

#: Default threshold below which a logged propensity counts as tiny.
DEFAULT_TINY_PSCORE = 1e-3


@dataclass(frozen=True)
class OverlapDiagnostics:
    """Overlap between logging and evaluation policy on one log.

    Attributes:
        n_rounds: Number of rounds (or sessions, for session-level estimates) the weights
            come from.
        effective_sample_size: Kish's ``(sum w)^2 / sum w^2`` of the weights actually used
            (after clipping); ``nan`` when every weight is zero.
        ess_ratio: ``effective_sample_size / n_rounds``, in [0, 1].
        mean_weight: Mean of the unclipped weights; close to 1 under full support.
        max_weight: Largest unclipped weight.
        share_tiny_pscore: Share of rounds with logged ``pscore < tiny_pscore``.
        min_pscore: Smallest logged propensity.
        tiny_pscore: The threshold used for ``share_tiny_pscore``.
        share_clipped: Share of rounds whose weight was clipped (0 without clipping).
        share_zero_weight: Share of rounds the evaluation policy would never take
            (``pi_e(a_i | x_i) == 0``).
    """

    n_rounds: int
    effective_sample_size: float
    ess_ratio: float
    mean_weight: float
    max_weight: float
    share_tiny_pscore: float
    min_pscore: float
    tiny_pscore: float
    share_clipped: float
    share_zero_weight: float

    def to_dict(self) -> dict[str, float | int]:
        """The diagnostics as a flat dict (for tables and JSON)."""
        return asdict(self)


def effective_sample_size(weights: NDArray[np.float64]) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``; ``nan`` if all weights are zero.

    Examples:
        >>> effective_sample_size(np.array([1.0, 1.0, 1.0, 1.0]))
        4.0
        >>> effective_sample_size(np.array([4.0, 0.0, 0.0, 0.0]))
        1.0
    """
    total_sq = float(np.dot(weights, weights))
    if total_sq == 0.0:
        return float("nan")
    total = float(weights.sum())
    return total * total / total_sq


def overlap_diagnostics(
    weights: NDArray[np.float64],
    pscore: NDArray[np.float64],
    *,
    used_weights: NDArray[np.float64] | None = None,
    tiny_pscore: float = DEFAULT_TINY_PSCORE,
) -> OverlapDiagnostics:
    """Diagnostics of one set of importance weights.

    Args:
        weights: Unclipped importance weights ``pi_e(a_i | x_i) / pi_b(a_i | x_i)``, shape
            ``(n_rounds,)`` (for sessions: the cumulative weight of each session).
        pscore: Logged propensities, shape ``(n_rounds,)`` (for sessions: every step's).
        used_weights: The weights the estimator used (clipped); defaults to ``weights``.
        tiny_pscore: Threshold for ``share_tiny_pscore``.

    Returns:
        The diagnostics record.
    """
    n_rounds = int(weights.shape[0])
    used = weights if used_weights is None else used_weights
    if n_rounds == 0:
        nan = float("nan")
        return OverlapDiagnostics(0, nan, nan, nan, nan, nan, nan, tiny_pscore, nan, nan)
    ess = effective_sample_size(used)
    return OverlapDiagnostics(
        n_rounds=n_rounds,
        effective_sample_size=ess,
        ess_ratio=ess / n_rounds,
        mean_weight=float(weights.mean()),
        max_weight=float(weights.max()),
        share_tiny_pscore=float(np.count_nonzero(pscore < tiny_pscore)) / max(pscore.size, 1),
        min_pscore=float(pscore.min()) if pscore.size else float("nan"),
        tiny_pscore=float(tiny_pscore),
        share_clipped=float(np.count_nonzero(used < weights)) / n_rounds,
        share_zero_weight=float(np.count_nonzero(weights == 0.0)) / n_rounds,
    )
