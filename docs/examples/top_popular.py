"""An example custom agent: samples among the most finished songs, and supports OPE.

Use it in a config with ``[arms.treatment] agent = "docs.examples.top_popular:make_agent"``
(run adasim from the repository root, or put this file's folder on ``PYTHONPATH``).
``docs/agents.md`` explains the contract it keeps.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from simulator.experiment_config import ArmConfig
from simulator.types import FeedbackBatch, ObservableWorld, Recommendation, RequestBatch


class TopPopular:
    """Draws among the ``n_candidates`` most finished songs, in proportion to finishes + 1.

    Args:
        n_candidates: Songs it chooses among (the rest get probability 0).
        prior: Pseudo-count of every song (so a new song can enter the top list).
    """

    def __init__(self, n_candidates: int, prior: float = 1.0) -> None:
        self.n_candidates = n_candidates
        self.prior = prior
        self.finishes_ = np.zeros(0, dtype=np.float64)  # grows as songs are released

    def action_distribution(
        self, user_ids: NDArray[np.int64], n_items: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Candidates ``(B, n_cand)`` and their probabilities (rows sum to 1), for OPE too."""
        counts = np.zeros(n_items)
        known = min(n_items, self.finishes_.shape[0])
        counts[:known] = self.finishes_[:known]
        k = min(self.n_candidates, n_items)
        top = np.lexsort((np.arange(n_items), -counts))[:k]  # most finished, ties by id
        weights = counts[top] + self.prior
        probs = weights / weights.sum()
        b = user_ids.shape[0]
        return np.tile(top, (b, 1)), np.tile(probs, (b, 1))

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        """One draw per request from :meth:`action_distribution`, with its probability."""
        candidates, probs = self.action_distribution(requests.user_ids, requests.n_items)
        # One uniform number per request: a request's draw does not depend on its batch.
        u = rng.random(len(requests))[:, None]
        pick = np.minimum((np.cumsum(probs, axis=1) <= u).sum(axis=1), probs.shape[1] - 1)
        rows = np.arange(len(requests))
        return Recommendation(
            item_ids=candidates[rows, pick],
            pscore=probs[rows, pick],
            candidates=candidates,
            candidate_probs=probs,
        )

    def observe(self, feedback: FeedbackBatch) -> None:
        """Count the finishes of its own recommendations."""
        items = feedback.recommendation.item_ids
        if items.size and items.max() >= self.finishes_.shape[0]:
            grown = np.zeros(max(int(items.max()) + 1, 2 * self.finishes_.shape[0]))
            grown[: self.finishes_.shape[0]] = self.finishes_
            self.finishes_ = grown
        np.add.at(self.finishes_, items, feedback.finish.astype(np.float64))

    def serving_snapshot(self) -> TopPopular:
        """A copy that serves as this agent does now (pickled every day, replayed by OPE)."""
        snapshot = TopPopular(self.n_candidates, self.prior)
        snapshot.finishes_ = self.finishes_.copy()
        return snapshot

    def __repr__(self) -> str:
        return f"TopPopular(n_candidates={self.n_candidates}, prior={self.prior})"


def make_agent(
    name: str, arm: ArmConfig, world: ObservableWorld, seed: np.random.SeedSequence
) -> TopPopular:
    """The factory adasim calls for an arm with this agent (``world`` is observable only).

    This agent needs neither the world (it learns from feedback alone) nor a seed (it
    draws only from the ``rng`` of :meth:`TopPopular.recommend`); it reads one arm key.
    """
    return TopPopular(n_candidates=arm.n_candidates)
