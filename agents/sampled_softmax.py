"""Retrieval learned over the catalogue: a sampled softmax with the log-Q correction.

Retrieval has to put the right songs of the whole catalogue into a short candidate list,
so it is trained as Covington et al. (2016) train the YouTube candidate generator: as an
extreme multi-class classifier whose classes are the items, on positive feedback only
(here: a finish or a like). The full softmax over every song is replaced by a sampled one
(Yi et al. 2019; mixed negatives as in Yang et al. 2020): for a mini-batch of ``B``
positive (user, item) pairs, each user's class scores are computed against

* the ``B`` items of the batch (in-batch negatives: the other users' positives), and
* ``M`` items drawn uniformly from the songs released so far (shared by the batch),

``s(u, j) = <u, i_j> / tau`` over the L2-normalised user and item vectors of the retrieval
model's own factorisation (:mod:`agents.retrieval`), as in Yi et al. Normalising matters
here: a softmax is blind to a common shift of an item's scores, so with raw dot products
the trained items drift to low scores together and a song never trained on (released after
the last update, its ID row still at its initial value) outranks all of them; with unit
vectors an untrained song sits at a cosine near 0, between the songs users like and those
they do not. Serving ranks by the same cosine (:func:`unit_user_vectors`,
:func:`unit_item_vectors`). In-batch items are drawn by popularity (an item appears as
often as it is a positive), so the softmax would learn popularity instead of preference;
the log-Q correction subtracts from each score the log of the item's expected number of
appearances among the sampled classes,

    ``Q_j = B q_j + M / N``,

where ``q_j`` is the item's share of the positives seen so far (streaming counts, add-one
smoothed) and ``N`` the songs released so far. The loss is the cross entropy of each
user's own item among its classes; accidental hits (the user's own item appearing again as
another class) are masked out.

References: P. Covington, J. Adams, E. Sargin (2016), "Deep Neural Networks for YouTube
Recommendations", RecSys; X. Yi et al. (2019), "Sampling-Bias-Corrected Neural Modeling for
Large Corpus Item Recommendations", RecSys; J. Yang et al. (2020), "Mixed Negative Sampling
for Learning Two-tower Neural Networks in Recommendations", WWW companion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from adaf2m2.protocol import FeatureBatch
from agents.models.base import BaseModel
from agents.retrieval import item_vectors, user_vectors


class PositiveFrequency:
    """Counts of positive feedback per item, the ``q_j`` of the log-Q correction."""

    def __init__(self) -> None:
        self.counts = np.zeros(0, dtype=np.float64)
        self.total = 0.0

    def add(self, item_ids: NDArray[np.int64], positive: NDArray[np.bool_]) -> None:
        """Count the positives among served ``item_ids``."""
        items = item_ids[positive]
        if items.size == 0:
            return
        size = int(items.max()) + 1
        if size > self.counts.size:
            grown = np.zeros(max(size, 2 * self.counts.size), dtype=np.float64)
            grown[: self.counts.size] = self.counts
            self.counts = grown
        np.add.at(self.counts, items, 1.0)
        self.total += float(items.size)

    def share(self, item_ids: NDArray[np.int64], n_items: int) -> NDArray[np.float64]:
        """Add-one smoothed share of the positives of each item among ``n_items`` songs."""
        known = item_ids < self.counts.size
        c = np.zeros(item_ids.size, dtype=np.float64)
        c[known] = self.counts[item_ids[known]]
        return (c + 1.0) / (self.total + max(n_items, 1))


def unit_user_vectors(model: BaseModel, v: torch.Tensor) -> torch.Tensor:
    """L2-normalised :func:`~agents.retrieval.user_vectors`."""
    return nn.functional.normalize(user_vectors(model, v), dim=1)


def unit_item_vectors(model: BaseModel, v: torch.Tensor) -> torch.Tensor:
    """L2-normalised :func:`~agents.retrieval.item_vectors`."""
    return nn.functional.normalize(item_vectors(model, v), dim=1)


ItemEncoder = Callable[[NDArray[np.int64]], FeatureBatch]
"""Item ids -> a batch whose item-owned fields describe them (user fields are ignored)."""


@dataclass(frozen=True)
class SoftmaxClasses:
    """The classes of one mini-batch's sampled softmax: drawn once, shared by every forward.

    Attributes:
        rows: ``(b,)`` positions of the batch's positive rows (the softmax's examples).
        items: The ``C = b + M`` classes as a feature batch: the positives' own items, then
            the uniform negatives, described with today's counts.
        log_q: ``(C,)`` log of each class's expected number of appearances (log-Q).
        hits: ``(b, C)`` accidental hits (the row's own item as another class), masked out.
    """

    rows: torch.Tensor
    items: FeatureBatch
    log_q: torch.Tensor
    hits: torch.Tensor


class SampledSoftmax(nn.Module):
    """A retrieval model trained by sampled softmax (a ``TrainableModel``).

    ``loss(batch)`` reads the rows whose label (column 0) is positive; ``predict(batch)``
    returns the model's own logits (the dot product of the towers), used by nothing on the
    serving path, which scores the catalogue with :mod:`agents.retrieval` directly.

    Args:
        model: A factorising base model (YouTube DNN or FM).
        encode_items: Feature batch of given item ids (the agent's encoder, current counts).
        catalogue_size: Songs released so far (the range of the uniform negatives).
        frequency: Positive counts per item, kept by the agent as feedback arrives.
        n_negatives: Uniform negatives ``M`` per mini-batch.
        generator: Source of the negative draws.
        temperature: ``tau`` of the cosine scores.
    """

    def __init__(
        self,
        model: BaseModel,
        encode_items: ItemEncoder,
        catalogue_size: Callable[[], int],
        frequency: PositiveFrequency,
        n_negatives: int,
        generator: torch.Generator,
        temperature: float,
    ) -> None:
        super().__init__()
        self.base = model
        self.encode_items = encode_items
        self.catalogue_size = catalogue_size
        self.frequency = frequency
        self.n_negatives = n_negatives
        self.generator = generator
        self.temperature = temperature

    def predict(self, batch: FeatureBatch) -> torch.Tensor:
        """``(B, 1)`` scores ``<u, i> / tau`` of the batch's (user, item) pairs."""
        v = self.base.embed(batch)
        u, i = unit_user_vectors(self.base, v), unit_item_vectors(self.base, v)
        return (u * i).sum(1, keepdim=True) / self.temperature

    def classes(self, batch: FeatureBatch) -> SoftmaxClasses | None:
        """Draw the mini-batch's classes (``None`` when it has no positive row)."""
        assert batch.labels is not None
        positive = batch.labels[:, 0] > 0.5
        rows = positive.nonzero().squeeze(1)
        if rows.numel() == 0:
            return None
        item_ids = batch.fields[rows, self.base.spec.index("item_id")].numpy()
        n_items = max(self.catalogue_size(), 1)
        negatives = torch.randint(n_items, (self.n_negatives,), generator=self.generator)
        class_ids = np.concatenate([item_ids, negatives.numpy().astype(np.int64)])
        # Every class, the positives' own items too, is described as it is now: item
        # counts as served would differ between the positives (counts before their
        # impression, often 0) and the negatives (counts now), and the item tower would
        # learn that an unseen song is a positive.
        items = self.encode_items(class_ids)
        expected = rows.numel() * self.frequency.share(class_ids, n_items)
        expected += self.n_negatives / n_items
        b = rows.numel()
        hits = torch.from_numpy(item_ids[:, None] == class_ids[None, :])
        hits[torch.arange(b), torch.arange(b)] = False  # the own item is the label
        return SoftmaxClasses(rows, items, torch.from_numpy(np.log(expected)), hits)

    def cross_entropy(
        self,
        v_users: torch.Tensor,
        v_classes: torch.Tensor,
        classes: SoftmaxClasses,
        row_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean cross entropy of each positive row's own item among the classes.

        Args:
            v_users: ``(b, F, d)`` field embeddings of the positive rows (user fields read).
            v_classes: ``(C, F, d)`` field embeddings of the classes (item fields read).
            classes: The draw of :meth:`classes`.
            row_weights: optional ``(B,)`` weights of the batch's rows (a training-data
                design's); the positive rows' weigh their cross entropies (mean of
                ``w_i CE_i`` over the positives).
        """
        u = unit_user_vectors(self.base, v_users)
        items = unit_item_vectors(self.base, v_classes)
        logits = u @ items.T / self.temperature - classes.log_q.to(u.dtype)
        logits = logits.masked_fill(classes.hits, float("-inf"))
        target = torch.arange(u.shape[0])
        if row_weights is None:
            return nn.functional.cross_entropy(logits, target)
        per_row = nn.functional.cross_entropy(logits, target, reduction="none")
        return (per_row * row_weights[classes.rows].to(per_row.dtype)).mean()

    def loss(self, batch: FeatureBatch) -> torch.Tensor:
        """Mean sampled-softmax cross entropy over the batch's positive rows."""
        v = self.base.embed(batch)
        classes = self.classes(batch)
        if classes is None:
            # No positive: a zero loss that still has a graph, so the step is a no-op.
            return v.sum() * 0.0
        return self.cross_entropy(
            v[classes.rows], self.base.embed(classes.items), classes, batch.weights
        )


__all__ = [
    "ItemEncoder",
    "PositiveFrequency",
    "SampledSoftmax",
    "SoftmaxClasses",
    "unit_item_vectors",
    "unit_user_vectors",
]
