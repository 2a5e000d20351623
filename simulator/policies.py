"""Built-in policies that need no model: random, popular and oracle.

All three implement :class:`~simulator.types.Recommender`, work on whole batches and
record the exact probability of the chosen item (``pscore``), which off-policy evaluation
needs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from simulator.errors import ConfigError
from simulator.types import FeedbackBatch, Recommendation, RequestBatch
from simulator.world.world import World


class RandomPolicy:
    """Uniform over the items released so far: ``pscore = 1 / n_items``."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        n = len(requests)
        items = rng.integers(0, requests.n_items, size=n, dtype=np.int64)
        return Recommendation(item_ids=items, pscore=np.full(n, 1.0 / requests.n_items))

    def observe(self, feedback: FeedbackBatch) -> None:
        """Random learns nothing."""

    def __repr__(self) -> str:
        return "RandomPolicy()"


class PopularPolicy:
    """Samples items in proportion to their observed popularity raised to a power.

    With ``c_i`` the count of the chosen signal for item ``i`` (impressions or finishes
    observed so far by this policy), the policy draws item ``i`` with probability

    .. math::

        \\pi(i) = \\frac{(c_i + c_0)^{\\gamma}}{\\sum_{j < n} (c_j + c_0)^{\\gamma}},

    with prior count ``c_0 = prior`` and ``gamma = power``; ``power = 0`` is uniform,
    ``power > 1`` concentrates exposure (rich get richer). The same distribution serves
    every request of a batch; counts update in :meth:`observe`.

    Args:
        power: Exponent ``gamma >= 0``.
        prior: Pseudo-count ``c_0 > 0`` (what a new item starts with).
        signal: Which feedback counts as popularity.
    """

    def __init__(
        self,
        power: float = 1.0,
        prior: float = 1.0,
        signal: Literal["impressions", "finishes"] = "finishes",
    ) -> None:
        if not power >= 0:
            raise ConfigError(f"power == {power!r}, must be >= 0")
        if not prior > 0:
            raise ConfigError(f"prior == {prior!r}, must be > 0")
        if signal not in ("impressions", "finishes"):
            raise ConfigError(f"signal == {signal!r}, must be 'impressions' or 'finishes'")
        self.power = power
        self.prior = prior
        self.signal = signal
        self.counts_ = np.zeros(0, dtype=np.float64)

    def _grow(self, n_items: int) -> None:
        if n_items > self.counts_.shape[0]:
            grown = np.zeros(max(n_items, 2 * self.counts_.shape[0]))
            grown[: self.counts_.shape[0]] = self.counts_
            self.counts_ = grown

    def probabilities(self, n_items: int) -> NDArray[np.float64]:
        """The current distribution over items ``0 .. n_items - 1``."""
        self._grow(n_items)
        w = (self.counts_[:n_items] + self.prior) ** self.power
        out: NDArray[np.float64] = w / w.sum()
        return out

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        p = self.probabilities(requests.n_items)
        cdf = np.cumsum(p)
        u = rng.random(len(requests)) * cdf[-1]
        items = np.minimum(np.searchsorted(cdf, u, side="right"), requests.n_items - 1)
        items = items.astype(np.int64)
        return Recommendation(item_ids=items, pscore=p[items])

    def observe(self, feedback: FeedbackBatch) -> None:
        items = feedback.recommendation.item_ids
        self._grow(int(items.max()) + 1 if items.size else 0)
        weight = np.ones(items.shape[0]) if self.signal == "impressions" else feedback.finish * 1.0
        np.add.at(self.counts_, items, weight)

    def __repr__(self) -> str:
        return f"PopularPolicy(power={self.power}, prior={self.prior}, signal={self.signal!r})"


class OraclePolicy:
    """Knows the truth: draws uniformly among each user's ``top_k`` items by true affinity.

    The finish, like and comment probabilities all rise with the affinity and the dislike
    probability falls, so the top items by affinity are the best by every response.
    ``pscore = 1 / top_k``; with ``top_k = 1`` the policy is deterministic. Top lists are
    cached per user and recomputed when the catalogue has grown.

    Args:
        world: The world (the oracle may see ground truth).
        top_k: Size of the list it samples from.
        chunk_users: Users scored per matrix product (bounds memory at
            ``chunk_users * n_items`` floats).
    """

    def __init__(self, world: World, top_k: int = 20, chunk_users: int = 512) -> None:
        if top_k < 1:
            raise ConfigError(f"top_k == {top_k!r}, must be >= 1")
        self.world = world
        self.top_k = top_k
        self.chunk_users = chunk_users
        self._top = np.zeros((0, top_k), dtype=np.int64)
        self._stamp = np.zeros(0, dtype=np.int64)  # n_items when the list was computed

    def _ensure(self, users: NDArray[np.int64], n_items: int) -> None:
        n_users = self.world.n_users_total
        if self._top.shape[0] < n_users:
            self._top = np.zeros((n_users, self.top_k), dtype=np.int64)
            self._stamp = np.zeros(n_users, dtype=np.int64)
        stale = np.unique(users[self._stamp[users] != n_items])
        k = min(self.top_k, n_items)
        for start in range(0, stale.shape[0], self.chunk_users):
            chunk = stale[start : start + self.chunk_users]
            scores = self.world.affinity_matrix(chunk, n_items)
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n_items else None
            if top is None:
                top = np.broadcast_to(np.arange(n_items), (chunk.shape[0], n_items))
            # Sort the k best by score (ties by id) so results never depend on partition order.
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.lexsort((top, -top_scores), axis=1)
            best = np.take_along_axis(top, order, axis=1)
            self._top[chunk, :k] = best
            if k < self.top_k:
                self._top[chunk, k:] = best[:, :1]
            self._stamp[chunk] = n_items

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        users = requests.user_ids
        self._ensure(users, requests.n_items)
        k = min(self.top_k, requests.n_items)
        if k == 1:
            pick = np.zeros(len(requests), dtype=np.int64)
        else:
            pick = rng.integers(0, k, size=len(requests), dtype=np.int64)
        items = self._top[users, pick]
        return Recommendation(item_ids=items, pscore=np.full(len(requests), 1.0 / k))

    def observe(self, feedback: FeedbackBatch) -> None:
        """The oracle already knows everything."""

    def __repr__(self) -> str:
        return f"OraclePolicy(top_k={self.top_k})"


def make_policy(
    name: str,
    world: World,
    *,
    popular_power: float = 1.0,
    popular_prior: float = 1.0,
    popular_signal: Literal["impressions", "finishes"] = "finishes",
    oracle_top_k: int = 20,
) -> RandomPolicy | PopularPolicy | OraclePolicy:
    """Build a built-in policy by name (``random``, ``popular`` or ``oracle``)."""
    if name == "random":
        return RandomPolicy()
    if name == "popular":
        return PopularPolicy(popular_power, popular_prior, popular_signal)
    if name == "oracle":
        return OraclePolicy(world, oracle_top_k)
    raise ConfigError(f"policy == {name!r}, must be one of 'random', 'popular', 'oracle'")


__all__ = ["OraclePolicy", "PopularPolicy", "RandomPolicy", "make_policy"]
