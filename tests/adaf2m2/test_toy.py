"""Tests for adaf2m2/toy.py: the toy model follows the protocol, the toy world is fixed."""

from __future__ import annotations

import numpy as np
import torch

from adaf2m2.protocol import COUNT_COLUMNS, WrappableModel
from adaf2m2.toy import TOY_VOCAB, ToyModel, make_toy_batch


def test_toy_model_follows_the_protocol() -> None:
    m = ToyModel(n_tasks=2)
    assert isinstance(m, WrappableModel)
    batch = make_toy_batch(5, rng=0, n_tasks=2)
    v = m.embed(batch)
    assert v.shape == (5, len(TOY_VOCAB), m.embed_dim)
    torch.testing.assert_close(m(batch), m.head(v))
    emb = {id(p) for p in m.embedding_parameters()}
    head = {id(p) for p in m.head_parameters()}
    assert not emb & head
    assert emb | head == {id(p) for p in m.parameters()}


def test_toy_batches_share_one_world_and_meta_follow_ids() -> None:
    a = make_toy_batch(3000, rng=1)
    b = make_toy_batch(3000, rng=2)
    assert a.counts.shape == (3000, len(COUNT_COLUMNS))
    assert a.labels is not None
    assert 0.05 < float(a.labels.mean()) < 0.95
    fields = torch.cat([a.fields, b.fields]).numpy()
    for f, owner in ((2, 1), (3, 0), (4, 1), (5, 1)):
        # every owner id maps to exactly one value of the dependent field, across batches
        pairs = np.unique(fields[:, [owner, f]], axis=0)
        assert len(pairs) == len(np.unique(pairs[:, 0]))
    assert not torch.equal(a.fields, b.fields)
    torch.testing.assert_close(make_toy_batch(50, rng=1).fields, make_toy_batch(50, rng=1).fields)
