"""What a base model must offer to be wrapped, and the batch it consumes.

adaf2m2 sits below ``agents`` in the dependency graph (agents import it, never the
reverse), so the batch type and the base-model protocol live here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

# Order of the state signals in ``FeatureBatch.counts`` (raw counts, before any transform).
COUNT_COLUMNS: tuple[str, ...] = (
    "user_impressions",
    "user_likes",
    "user_comments",
    "item_impressions",
    "item_likes",
    "item_comments",
)


@dataclass(frozen=True)
class FeatureBatch:
    """A mini-batch of examples as base models and frameworks consume it.

    Attributes:
        fields: ``(B, n_fields)`` int64 categorical codes, one column per field of the
            model's feature spec (ID fields and meta fields alike).
        counts: ``(B, len(COUNT_COLUMNS))`` float32 interaction counts seen so far (the
            state signals of the paper's adapter); zeros where unknown.
        labels: ``(B, n_tasks)`` float32 in [0, 1], or ``None`` at serving time.
        history: optional ``(B, L)`` int64 recent item ids of the user, ``-1`` = padding.
        weights: optional ``(B,)`` float32 per-example loss weights (a training-data
            design's, e.g. the weighted training of an A/B run); ``None``: every example
            weighs 1, and the losses are computed exactly as without the attribute.
    """

    fields: torch.Tensor
    counts: torch.Tensor
    labels: torch.Tensor | None = None
    history: torch.Tensor | None = None
    weights: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.fields.shape[0])


@runtime_checkable
class WrappableModel(Protocol):
    """A base recommender split as the paper splits it: embedding layer and ``g``.

    ``embed(batch)`` gives ``v`` of shape ``(B, n_fields, embed_dim)``; ``head(v)`` gives
    logits of shape ``(B, n_tasks)``. ``forward(batch) == head(embed(batch))``.
    """

    n_fields: int
    embed_dim: int
    n_tasks: int
    id_fields: tuple[int, ...]
    """Positions in ``v`` of the ID fields (user, item, artist), used by the adapter."""

    def embed(self, batch: FeatureBatch) -> torch.Tensor: ...

    def head(self, v: torch.Tensor) -> torch.Tensor: ...

    def embedding_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters of the embedding layer (tables), as opposed to ``head``'s."""
        ...

    def head_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters of ``g``: interaction layer and deep network."""
        ...
