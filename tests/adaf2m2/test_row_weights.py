"""Per-example loss weights (``FeatureBatch.weights``), for the weighted training-data design.

A weight multiplies its example's loss (the mean over the batch divides by the number of
examples); no weights computes the losses exactly as before weights existed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from adaf2m2.errors import BaseModelError
from adaf2m2.factory import build_framework
from adaf2m2.protocol import FeatureBatch
from adaf2m2.toy import ToyModel, make_toy_batch
from adaf2m2.trainable import multitask_bce
from tests.agents.test_sampled_softmax import pairs, retrieval

MODES = ["none", "adaf2m2", "mask_only", "adapter_only"]


def _weighted(batch: FeatureBatch, weights: np.ndarray) -> FeatureBatch:
    return replace(batch, weights=torch.from_numpy(weights.astype(np.float32)))


def test_weighted_bce_matches_sklearn() -> None:
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(50, 2, generator=gen)
    labels = (torch.rand(50, 2, generator=gen) < 0.3).float()
    w = torch.rand(50, generator=gen) * 2
    task_weights = torch.tensor([0.7, 0.3])
    got = float(multitask_bce(logits, labels, task_weights, w))
    p = torch.sigmoid(logits).numpy()
    # sklearn divides the weighted sum by sum(w); this loss divides it by N.
    scale = float(w.sum()) / 50
    golden = sum(
        float(o) * scale * log_loss(labels[:, t].numpy(), p[:, t], sample_weight=w.numpy())
        for t, o in enumerate(task_weights)
    )
    assert got == pytest.approx(golden, rel=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_unit_weights_give_the_unweighted_loss_exactly(mode: str) -> None:
    batch = make_toy_batch(64, rng=2)
    ones = _weighted(batch, np.ones(64))
    plain = build_framework(mode, ToyModel(), rng=5).loss(batch)
    weighted = build_framework(mode, ToyModel(), rng=5).loss(ones)
    assert torch.equal(plain, weighted)


@pytest.mark.parametrize("mode", MODES)
def test_a_zero_weight_removes_the_example_from_the_main_loss(mode: str) -> None:
    batch = make_toy_batch(64, rng=4)
    keep = np.arange(64) % 3 != 0
    w = keep.astype(np.float64)
    model = build_framework(mode, ToyModel(), rng=5)
    model.loss(_weighted(batch, w))
    with_zeros = model.last_parts_.main  # type: ignore[union-attr]
    rows = torch.from_numpy(np.flatnonzero(keep))
    kept = FeatureBatch(batch.fields[rows], batch.counts[rows], batch.labels[rows])  # type: ignore[index]
    model.loss(kept)
    without = model.last_parts_.main  # type: ignore[union-attr]
    # Divided by all 64 examples, not by the kept ones.
    assert with_zeros == pytest.approx(without * keep.sum() / 64, rel=1e-5)


@pytest.mark.parametrize("mode", ["adaf2m2", "mask_only"])
def test_the_aux_loss_weighs_each_examples_copies(mode: str) -> None:
    batch = make_toy_batch(32, rng=6)
    zero = _weighted(batch, np.zeros(32))
    model = build_framework(mode, ToyModel(), rng=5)
    model.loss(zero)
    assert model.last_parts_.aux == 0.0  # type: ignore[union-attr]
    model.loss(_weighted(batch, np.full(32, 2.0)))
    doubled = model.last_parts_.aux  # type: ignore[union-attr]
    again = build_framework(mode, ToyModel(), rng=5)
    again.loss(zero)  # the same mask draws as above
    again.loss(batch)
    assert doubled == pytest.approx(2 * again.last_parts_.aux, rel=1e-5)  # type: ignore[union-attr]


def test_the_ssl_baseline_refuses_weights() -> None:
    batch = make_toy_batch(16, rng=1)
    model = build_framework("ssl_mask", ToyModel(), rng=5)
    with pytest.raises(BaseModelError, match=r"^batch.weights is set, but the SSL baseline"):
        model.loss(_weighted(batch, np.ones(16)))


def test_sampled_softmax_weighs_its_positive_rows() -> None:
    users, items = np.array([4, 5, 6, 7]), np.array([1, 3, 2, 9])
    labels = np.array([1, 1, 1, 0])
    batch = pairs(users, items, labels)
    plain = retrieval(n_negatives=3)[0].loss(batch)
    ones = retrieval(n_negatives=3)[0].loss(_weighted(batch, np.ones(4)))
    assert float(ones.detach()) == pytest.approx(float(plain.detach()), rel=1e-6)
    # Only the positives count, each by its weight (mean over the 3 positives of w_i CE_i);
    # the negative row's weight is unused. Fresh models and generators: the same draws.
    w = np.array([0.0, 0.0, 3.0, 5.0])
    one = retrieval(n_negatives=3)[0].loss(_weighted(batch, w))
    expected = float(
        retrieval(n_negatives=3)[0].loss(_weighted(batch, np.array([0.0, 0.0, 1.0, 0.0]))).detach()
    )
    assert float(one.detach()) == pytest.approx(3.0 * expected, rel=1e-5)
