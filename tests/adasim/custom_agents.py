"""Factories of custom agents for the tests (``agent = "tests.adasim.custom_agents:..."``)."""

from __future__ import annotations

import numpy as np

from simulator.experiment_config import ArmConfig
from simulator.types import FeedbackBatch, ObservableWorld, Recommendation, RequestBatch

SEEN: list[object] = []
"""The ``world`` argument of every :func:`make_uniform` call (what a factory is given)."""


class Uniform:
    """Uniform over the catalogue; offers no action distribution, so no OPE."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        n = len(requests)
        items = np.minimum(
            (rng.random(n) * requests.n_items).astype(np.int64), requests.n_items - 1
        )
        return Recommendation(item_ids=items, pscore=np.full(n, 1.0 / requests.n_items))

    def observe(self, feedback: FeedbackBatch) -> None:
        """Learns nothing."""


def make_uniform(
    name: str, arm: ArmConfig, world: ObservableWorld, seed: np.random.SeedSequence
) -> Uniform:
    SEEN.append(world)
    return Uniform()


def make_nothing(
    name: str, arm: ArmConfig, world: ObservableWorld, seed: np.random.SeedSequence
) -> object:
    """Returns something that is not a Recommender."""
    return object()


NOT_CALLABLE = 3
