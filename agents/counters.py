"""Interaction counters per user and per item: the state signals of the paper's adapter.

Counts grow with the stream (impressions, likes, comments of each user and each item), in
arrays that grow as new ids appear, so an agent never sizes anything from the future.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from simulator.types import FeedbackBatch

_KINDS = ("impressions", "likes", "comments")


class InteractionCounters:
    """Running counts of impressions, likes and comments for users and items.

    ``counts(user_ids, item_ids)`` returns the columns in the order of
    ``adaf2m2.protocol.COUNT_COLUMNS``: user impressions, likes, comments, then the same
    for the item.
    """

    def __init__(self) -> None:
        self.user_ = np.zeros((0, len(_KINDS)), dtype=np.float64)
        self.item_ = np.zeros((0, len(_KINDS)), dtype=np.float64)

    @staticmethod
    def _grown(table: NDArray[np.float64], size: int) -> NDArray[np.float64]:
        if size <= table.shape[0]:
            return table
        # Doubling keeps the amortised cost of growth linear in the number of ids.
        new = np.zeros((max(size, 2 * table.shape[0]), table.shape[1]), dtype=table.dtype)
        new[: table.shape[0]] = table
        return new

    def update(self, feedback: FeedbackBatch) -> None:
        """Add one batch of feedback."""
        users = feedback.requests.user_ids
        items = feedback.recommendation.item_ids
        if users.size == 0:
            return
        self.user_ = self._grown(self.user_, int(users.max()) + 1)
        self.item_ = self._grown(self.item_, int(items.max()) + 1)
        events = np.stack(
            [np.ones(users.size), feedback.like.astype(np.float64), feedback.comment], axis=1
        ).astype(np.float64)
        np.add.at(self.user_, users, events)
        np.add.at(self.item_, items, events)

    def counts(
        self, user_ids: NDArray[np.int64], item_ids: NDArray[np.int64]
    ) -> NDArray[np.float32]:
        """``(B, 6)`` counts for the given (user, item) pairs; unseen ids count zero."""
        out = np.zeros((user_ids.size, 2 * len(_KINDS)), dtype=np.float32)
        known_u = user_ids < self.user_.shape[0]
        known_i = item_ids < self.item_.shape[0]
        out[known_u, : len(_KINDS)] = self.user_[user_ids[known_u]]
        out[known_i, len(_KINDS) :] = self.item_[item_ids[known_i]]
        return out
