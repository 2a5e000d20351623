"""The weighted training-data design: which arm a logged row came from, and its weights.

Si (2023, "Tackling Interference Induced by Data Training Loops in A/B Tests: A Weighted
Training Approach", arXiv 2310.17496) lets every arm's learner train on all arms' logged
rows, each row weighted so that the learner sees its own arm's distribution. With ``Z = 1``
when a row came from the treatment, ``p`` the treatment's share and ``X`` the row's
exposure features, the treatment's learner weighs a row by ``E[Z | X] / p`` and the
control's by ``(1 - E[Z | X]) / (1 - p)``: pooled rows, whose density of ``X`` is
``p f_T + (1 - p) f_C``, weighted so, have the density ``f_T`` (resp. ``f_C``), because
``E[Z | X = x] = p f_T(x) / (p f_T(x) + (1 - p) f_C(x))``; the responses given ``X`` are the
same whichever arm served.

Here ``X`` is the song shown, which is what the arms' policies choose: users are randomised
to arms, so their features say nothing of ``Z`` by themselves (a user's id would: it says
``Z`` exactly, and the weights would fall back to data splitting). ``E[Z = a | song]`` is
estimated by :class:`ArmShareModel` from the counts of the song's rows each arm logged so
far in the A/B run's experiment, with a prior of ``PRIOR_ROWS`` rows spread as the arms'
shares (the maximum a posteriori estimate of a per-song categorical under a Dirichlet
prior; an unseen song gets the shares themselves, hence weight 1). With more than two arms
the same holds for each arm ``a``: weight ``E[Z = a | X] / p_a``. The formulas are in
``docs/methods/training_data.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from simulator.errors import ConfigError

PRIOR_ROWS = 10.0
"""Pseudo-rows of the prior of each song's arm shares: a song seen in a handful of rows
keeps weights near 1 instead of 0 or ``1 / p``."""


class ArmShareModel:
    """``E[Z = a | song]`` from the rows each arm logged of each song so far.

    Args:
        shares: Each arm's share of the users, in arm order (the ``p_a``; sum 1).
        prior_rows: Strength of the prior (see :data:`PRIOR_ROWS`).
    """

    def __init__(self, shares: Sequence[float], prior_rows: float = PRIOR_ROWS) -> None:
        p = np.asarray(shares, dtype=np.float64)
        if p.ndim != 1 or p.size < 2 or np.any(p <= 0.0) or abs(p.sum() - 1.0) > 1e-9:
            raise ConfigError(
                f"shares == {list(shares)}, must be >= 2 positive shares summing to 1"
            )
        if not prior_rows > 0.0:
            raise ConfigError(f"prior_rows == {prior_rows}, must be > 0")
        self.shares = p
        self.prior_rows = float(prior_rows)
        self.counts = np.zeros((0, p.size), dtype=np.int64)

    def add(self, item_ids: NDArray[np.int64], arm: int) -> None:
        """Count rows of ``arm`` (its index) showing ``item_ids``."""
        if item_ids.size == 0:
            return
        top = int(item_ids.max()) + 1
        if top > self.counts.shape[0]:
            grown = np.zeros((max(top, 2 * self.counts.shape[0]), self.shares.size), np.int64)
            grown[: self.counts.shape[0]] = self.counts
            self.counts = grown
        np.add.at(self.counts[:, arm], item_ids, 1)

    def probabilities(self, item_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """``(B, n_arms)`` estimates of ``E[Z = a | song]``; each row sums to 1."""
        n = np.zeros((item_ids.size, self.shares.size), dtype=np.float64)
        known = item_ids < self.counts.shape[0]
        n[known] = self.counts[item_ids[known]]
        prior = self.prior_rows * self.shares
        return (n + prior) / (n.sum(axis=1, keepdims=True) + self.prior_rows)

    def all_weights(self, item_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """``(B, n_arms)``: ``E[Z = a | song] / p_a``, each row's weight in each arm's learner."""
        return self.probabilities(item_ids) / self.shares

    def weights(self, item_ids: NDArray[np.int64], arm: int) -> NDArray[np.float64]:
        """``E[Z = arm | song] / p_arm`` per row: the row's weight in ``arm``'s learner."""
        return self.all_weights(item_ids)[:, arm]


__all__ = ["PRIOR_ROWS", "ArmShareModel"]
