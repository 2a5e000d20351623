"""Sampled-softmax retrieval: the log-Q corrected loss, accidental hits, and that it learns."""

from __future__ import annotations

import numpy as np
import torch

from adaf2m2.protocol import FeatureBatch
from agents.features import FeatureSpec
from agents.models.base import ModelConfig
from agents.models.registry import build_model
from agents.online import OnlineLearner
from agents.sampled_softmax import (
    PositiveFrequency,
    SampledSoftmax,
    unit_item_vectors,
    unit_user_vectors,
)
from simulator.types import FieldSpec

N = 12
SPEC = FeatureSpec.from_fields(
    [FieldSpec("user_id", "user", "id", N)],
    [FieldSpec("item_id", "item", "id", N)],
    n_count_buckets=0,
)


def pairs(users: np.ndarray, items: np.ndarray, labels: np.ndarray | None = None) -> FeatureBatch:
    fields = np.stack([users, items], axis=1).astype(np.int64)
    y = np.ones(users.size, np.float32) if labels is None else labels.astype(np.float32)
    return SPEC.make_batch(fields, np.zeros((users.size, 6), np.float32), y[:, None])


def encode_items(item_ids: np.ndarray) -> FeatureBatch:
    return pairs(np.zeros(item_ids.size, np.int64), item_ids)


def retrieval(n_negatives: int, seed: int = 0) -> tuple[SampledSoftmax, PositiveFrequency]:
    model = build_model(
        "youtube_dnn",
        SPEC,
        ModelConfig(embed_dim=8, hidden_dims=()),
        torch.Generator().manual_seed(seed),
    )
    freq = PositiveFrequency()
    loss = SampledSoftmax(
        model, encode_items, lambda: N, freq, n_negatives, torch.Generator().manual_seed(1), 0.1
    )
    return loss, freq


def test_positive_shares_are_add_one_smoothed_counts() -> None:
    freq = PositiveFrequency()
    freq.add(np.array([0, 0, 3, 5]), np.array([True, True, True, False]))
    np.testing.assert_allclose(
        freq.share(np.array([0, 3, 5, 40]), 10), np.array([3, 2, 1, 1]) / (3 + 10)
    )


def test_loss_is_the_log_q_corrected_cross_entropy_with_accidental_hits_masked() -> None:
    loss, freq = retrieval(n_negatives=3)
    freq.add(np.array([1, 1, 1, 2]), np.ones(4, bool))
    users, items = np.array([4, 5, 6, 7]), np.array([1, 1, 2, 9])
    labels = np.array([1, 1, 1, 0])  # the last row is not a positive: left out
    got = loss.loss(pairs(users, items, labels))
    negatives = torch.randint(N, (3,), generator=torch.Generator().manual_seed(1)).numpy()
    classes = np.concatenate([items[:3], negatives])
    with torch.no_grad():
        u = unit_user_vectors(loss.base, loss.base.embed(pairs(users[:3], items[:3])))
        i = unit_item_vectors(loss.base, loss.base.embed(encode_items(classes)))
    scores = (u @ i.T).double().numpy() / 0.1
    share = (np.bincount([1, 1, 1, 2], minlength=N)[classes] + 1.0) / (4 + N)
    logits = scores - np.log(3 * share + 3 / N)
    for r in range(3):
        for c in range(classes.size):
            if c != r and classes[c] == items[r]:
                logits[r, c] = -np.inf  # rows 0 and 1 share song 1: not each other's negative
    expected = np.mean([np.log(np.exp(logits[r]).sum()) - logits[r, r] for r in range(3)])
    np.testing.assert_allclose(float(got.detach()), expected, rtol=1e-5)


def test_a_batch_without_positives_gives_a_zero_loss_with_a_graph() -> None:
    loss, _ = retrieval(n_negatives=2)
    out = loss.loss(pairs(np.array([0, 1]), np.array([2, 3]), np.array([0, 0])))
    assert float(out.detach()) == 0.0
    assert out.requires_grad


def test_it_learns_each_users_song_over_the_catalogue() -> None:
    # Planted: user u's positives are song u (and a popular song 0 for everyone, which the
    # log-Q correction must not let win).
    torch.manual_seed(0)
    loss, freq = retrieval(n_negatives=6)
    users = np.concatenate([np.repeat(np.arange(N), 20), np.repeat(np.arange(N), 40)])
    items = np.concatenate([np.repeat(np.arange(N), 20), np.zeros(40 * N, np.int64)])
    freq.add(items, np.ones(items.size, bool))
    learner = OnlineLearner(loss, SPEC, 1, 0.05, 32, torch.Generator().manual_seed(2))
    batch = pairs(users, items)
    learner.fit(batch.fields.numpy(), batch.counts.numpy(), batch.labels.numpy(), epochs=30)
    with torch.no_grad():
        u = unit_user_vectors(
            loss.base, loss.base.embed(pairs(np.arange(N), np.zeros(N, np.int64)))
        )
        i = unit_item_vectors(loss.base, loss.base.embed(encode_items(np.arange(N))))
    scores = (u @ i.T).numpy()
    scores[:, 0] = -np.inf  # song 0 is every user's; rank the personal songs
    assert (scores[1:].argmax(axis=1) == np.arange(1, N)).mean() >= 0.9
