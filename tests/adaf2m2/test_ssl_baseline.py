"""Tests for adaf2m2/ssl_baseline.py: InfoNCE, complementary views, gradient routing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from adaf2m2.config import AdaF2M2Config
from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.ssl_baseline import SSLMask, info_nce
from adaf2m2.toy import ToyModel, make_toy_batch


def test_info_nce_matches_a_numpy_computation() -> None:
    gen = np.random.default_rng(0)
    z1, z2 = gen.normal(size=(7, 5)), gen.normal(size=(7, 5))
    tau = 0.3
    # Independent computation: cosine similarities, row-wise log-softmax, diagonal.
    a = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    b = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    s = a @ b.T / tau
    log_softmax = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    golden = -np.mean(np.diag(log_softmax))
    got = float(info_nce(torch.tensor(z1), torch.tensor(z2), tau))
    assert got == pytest.approx(golden, rel=1e-10)


def test_info_nce_prefers_matching_pairs() -> None:
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    assert float(info_nce(z, z, 0.1)) < float(info_nce(z, z.roll(1, dims=0), 0.1))


@pytest.mark.parametrize("n_fields", [2, 5, 6])
def test_views_are_complementary_halves(n_fields: int) -> None:
    vocab = (50, 60, 10, 4, 5, 6)[:n_fields]
    fw = SSLMask(ToyModel(vocab_sizes=vocab, id_fields=(0,)), AdaF2M2Config(), rng=0)
    v = fw.base.embed(make_toy_batch(40, rng=1, vocab_sizes=vocab)) + 5.0
    view1, view2, in_first = fw.views(v)
    assert bool((in_first.sum(dim=1) == n_fields // 2).all())
    filler = fw.mask_embeddings.unsqueeze(0).expand_as(v)
    torch.testing.assert_close(view1[in_first], filler[in_first])
    torch.testing.assert_close(view1[~in_first], v[~in_first])
    torch.testing.assert_close(view2[in_first], v[in_first])
    torch.testing.assert_close(view2[~in_first], filler[~in_first])
    # The split is random per example, not one fixed split for the batch.
    assert len({tuple(row.tolist()) for row in in_first}) > 1


def _grad_sum(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> float:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return sum(0.0 if g is None else float(g.abs().sum()) for g in grads)


def test_gradient_routing() -> None:
    fw = SSLMask(ToyModel(), AdaF2M2Config(), rng=0)
    batch = make_toy_batch(64, rng=2)
    base: Any = fw.base
    emb, head = list(base.embedding_parameters()), list(base.head_parameters())
    v = base.embed(batch)
    ssl = fw.ssl_loss(v)
    assert _grad_sum(ssl, emb) > 0
    assert _grad_sum(ssl, [fw.mask_embeddings]) > 0
    assert _grad_sum(ssl, list(fw.encoder.parameters())) > 0
    assert _grad_sum(ssl, head) == 0.0
    total = fw.loss(batch)
    assert fw.last_parts_ is not None
    assert float(total.detach()) == pytest.approx(
        fw.last_parts_.main + 0.3 * fw.last_parts_.aux, rel=1e-6
    )
    assert _grad_sum(total, head) > 0


def test_serving_is_the_bare_head() -> None:
    fw = SSLMask(ToyModel(n_tasks=2), AdaF2M2Config(), rng=0)
    batch = make_toy_batch(9, rng=3, n_tasks=2)
    torch.testing.assert_close(fw.predict(batch), fw.base.head(fw.base.embed(batch)))
    with pytest.raises(FrameworkConfigError, match=r"has no adapter"):
        fw.adapter_weights(batch)


def test_training_brings_the_contrastive_loss_below_chance() -> None:
    # Chance level of InfoNCE over B in-batch candidates is log(B). The toy world's meta
    # fields are functions of the IDs, so the two complementary views share information
    # and a trained encoder must beat chance.
    fw = SSLMask(ToyModel(), AdaF2M2Config(), rng=0)
    opt = torch.optim.Adam(fw.parameters(), lr=0.01)
    losses: list[float] = []
    for step in range(100):
        opt.zero_grad()
        fw.loss(make_toy_batch(128, rng=step)).backward()
        opt.step()
        assert fw.last_parts_ is not None
        losses.append(fw.last_parts_.aux)
    assert np.mean(losses[-10:]) < np.log(128) - 0.3


def test_single_field_model_is_rejected() -> None:
    with pytest.raises(BaseModelError, match=r"n_fields == 1, the SSL baseline needs >= 2"):
        SSLMask(ToyModel(vocab_sizes=(10,), id_fields=(0,)), AdaF2M2Config())
