"""A minimal base model that follows the protocol, and a toy long-tail data stream.

Used by the doctests, the tests and the benchmark where the real base models of
``agents/models`` are not needed (adaf2m2 must not import ``agents``). :class:`ToyModel`
is the smallest honest :class:`~adaf2m2.protocol.WrappableModel`: one embedding table per
field and an MLP ``head`` over the flattened embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch
from adaf2m2.trainable import RngLike, torch_generator

TOY_VOCAB: tuple[int, ...] = (200, 300, 40, 6, 8, 5)
"""Vocabulary sizes of the toy fields: user_id, item_id, artist_id, age_band, genre, mood."""


class ToyModel(nn.Module):
    """Embedding tables plus an MLP head: ``forward(batch) == head(embed(batch))``.

    Args:
        vocab_sizes: One vocabulary size per field.
        embed_dim: Embedding size ``d``.
        n_tasks: Number of logits.
        id_fields: Positions of the ID fields (user, item, artist).
        hidden: Hidden size of the head.
        rng: Seed of the initialisation.

    Example:
        >>> m = ToyModel()
        >>> m.head(m.embed(make_toy_batch(4, rng=0))).shape
        torch.Size([4, 1])
    """

    def __init__(
        self,
        vocab_sizes: tuple[int, ...] = TOY_VOCAB,
        embed_dim: int = 8,
        n_tasks: int = 1,
        id_fields: tuple[int, ...] = (0, 1, 2),
        hidden: int = 32,
        rng: RngLike = 0,
    ) -> None:
        super().__init__()
        gen = torch_generator(rng)
        self.n_fields = len(vocab_sizes)
        self.embed_dim = embed_dim
        self.n_tasks = n_tasks
        self.id_fields = id_fields
        self.vocab_sizes = vocab_sizes
        self.tables = nn.ModuleList(nn.Embedding(n, embed_dim) for n in vocab_sizes)
        self.mlp = nn.Sequential(
            nn.Linear(self.n_fields * embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_tasks)
        )
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)

    def embed(self, batch: FeatureBatch) -> torch.Tensor:
        """``(B, F, d)`` field embeddings."""
        return torch.stack([t(batch.fields[:, f]) for f, t in enumerate(self.tables)], dim=1)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """``(N, F, d) -> (N, n_tasks)`` logits."""
        return self.mlp(v.flatten(start_dim=1))

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """``head(embed(batch))``."""
        return self.head(self.embed(batch))

    def embedding_parameters(self) -> Iterator[nn.Parameter]:
        """The embedding tables' weights."""
        return iter(self.tables.parameters())

    def head_parameters(self) -> Iterator[nn.Parameter]:
        """The MLP's weights."""
        return iter(self.mlp.parameters())


def make_toy_batch(
    n: int,
    rng: RngLike = None,
    vocab_sizes: tuple[int, ...] = TOY_VOCAB,
    n_tasks: int = 1,
    truth_seed: int = 12345,
) -> FeatureBatch:
    """A labelled batch from a fixed long-tail toy world.

    Users and items are drawn with Zipf-like popularity (weights ``1 / rank``); every other
    field is a fixed function of the user (field 3) or of the item (fields 2, 4, 5 and any
    beyond), as in real logs where a song has one artist and one genre. The label logit of
    task ``t`` is a sum of per-field effects fixed by ``truth_seed`` (so meta fields carry
    signal that generalises to rare IDs), and counts grow with popularity.

    Args:
        n: Number of examples.
        rng: Stream of the draws.
        vocab_sizes: Vocabulary sizes per field (user id, item id, then others).
        n_tasks: Number of label columns.
        truth_seed: Seed of the fixed world (lookups and effects); keep it across batches.
    """
    gen = np.random.default_rng(rng)
    truth = np.random.default_rng(truth_seed)
    effects = [truth.normal(0.0, 0.7, size=(v, n_tasks)) for v in vocab_sizes]
    owners = [0, 1] + [0 if f == 3 else 1 for f in range(2, len(vocab_sizes))]
    lookups = [truth.integers(0, v, size=vocab_sizes[owners[f]]) for f, v in enumerate(vocab_sizes)]
    fields = np.empty((n, len(vocab_sizes)), dtype=np.int64)
    for f in range(min(2, len(vocab_sizes))):
        p = 1.0 / np.arange(1, vocab_sizes[f] + 1)
        fields[:, f] = gen.choice(vocab_sizes[f], size=n, p=p / p.sum())
    for f in range(2, len(vocab_sizes)):
        fields[:, f] = lookups[f][fields[:, owners[f]]]
    logit = sum(effects[f][fields[:, f]] for f in range(len(vocab_sizes)))
    labels = (gen.random((n, n_tasks)) < 1.0 / (1.0 + np.exp(-np.asarray(logit)))).astype(
        np.float32
    )
    popularity = 1.0 / (1.0 + fields[:, :2].astype(np.float64))
    scale = np.concatenate(
        [np.repeat(popularity[:, :1], 3, 1), np.repeat(popularity[:, 1:], 3, 1)], 1
    )
    counts = gen.poisson(500.0 * scale * np.array([1.0, 0.1, 0.02] * 2)).astype(np.float32)
    assert counts.shape[1] == len(COUNT_COLUMNS)
    return FeatureBatch(
        fields=torch.from_numpy(fields),
        counts=torch.from_numpy(counts),
        labels=torch.from_numpy(labels),
    )


__all__ = ["TOY_VOCAB", "ToyModel", "make_toy_batch"]
