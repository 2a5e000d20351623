"""Tests for agents/retrieval_framework.py: which losses train what, on both retrieval losses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from adaf2m2.config import AdaF2M2Config
from adaf2m2.framework import AdaF2M2, LossTensors
from adaf2m2.protocol import FeatureBatch
from adaf2m2.ssl_baseline import SSLMask
from adaf2m2.tower_adapter import TowerAdapter
from adaf2m2.trainable import PlainModel
from agents.features import FeatureSpec
from agents.models.base import BaseModel, ModelConfig
from agents.models.registry import build_model
from agents.retrieval_framework import (
    SoftmaxFramework,
    build_retrieval_framework,
    retrieval_towers,
    tower_adapter,
)
from agents.sampled_softmax import PositiveFrequency, SampledSoftmax
from simulator.types import FieldSpec

N_USERS, N_ITEMS = 30, 40
USER_FIELDS = (
    FieldSpec("user_id", "user", "id", N_USERS),
    FieldSpec("age_band", "user", "meta", 5),
)
ITEM_FIELDS = (
    FieldSpec("item_id", "item", "id", N_ITEMS),
    FieldSpec("artist_id", "item", "id", 8),
    FieldSpec("genre", "item", "meta", 6),
)
SPEC = FeatureSpec.from_fields(USER_FIELDS, ITEM_FIELDS, n_count_buckets=4)
ROUTINGS = ("joint", "strict", "straight_through")


def _counts(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """State counts that differ between users and between items (the adapters' inputs)."""
    u, i = users.astype(np.float32), items.astype(np.float32)
    return np.stack([3 * u, u, u % 3, 5 * i, i, i % 4], axis=1)


def _batch(users: np.ndarray, items: np.ndarray, labels: np.ndarray) -> FeatureBatch:
    fields = SPEC.encode(
        np.stack([users, users % 5], axis=1),
        np.stack([items, items % 8, items % 6], axis=1),
        _counts(users, items),
    )
    return SPEC.make_batch(fields, _counts(users, items), labels.astype(np.float32)[:, None])


def _random_batch(n: int, seed: int) -> FeatureBatch:
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, N_USERS, n), rng.integers(0, N_ITEMS, n)
    return _batch(users, items, rng.random(n) < 0.5)


def _encode_items(item_ids: np.ndarray) -> FeatureBatch:
    return _batch(np.zeros(item_ids.size, np.int64), item_ids, np.ones(item_ids.size))


def _model(name: str) -> BaseModel:
    cfg = ModelConfig(embed_dim=4, tasks=("finish",), hidden_dims=(8,))
    model = build_model(name, SPEC, cfg, torch.Generator().manual_seed(0))
    assert isinstance(model, BaseModel)
    return model


def _softmax(model: BaseModel, seed: int = 1) -> SampledSoftmax:
    freq = PositiveFrequency()
    freq.add(np.arange(N_ITEMS), np.arange(N_ITEMS) % 3 == 0)
    return SampledSoftmax(
        model, _encode_items, lambda: N_ITEMS, freq, 16, torch.Generator().manual_seed(seed), 0.1
    )


def _build(mode: str, loss: str, model_name: str = "youtube_dnn", **options: Any) -> Any:
    model = _model(model_name)
    config = AdaF2M2Config(mode=mode, k=2, **options)  # type: ignore[arg-type]
    softmax = _softmax(model) if loss == "sampled_softmax" else None
    return build_retrieval_framework(mode, model, config, rng=0, softmax=softmax)


def _towers(model: BaseModel) -> list[torch.nn.Parameter]:
    """The parameters the towers' dot product reads (the head's minus the unused bias)."""
    return [
        p
        for n, p in model.named_parameters()
        if n.split(".")[0] in ("user_tower", "item_tower", "linear")
    ]


def _grads(loss: torch.Tensor, params: Iterable[torch.nn.Parameter]) -> list[float]:
    plist = list(params)
    if not plist or not loss.requires_grad:
        return [0.0] * len(plist)
    grads = torch.autograd.grad(loss, plist, retain_graph=True, allow_unused=True)
    return [0.0 if g is None else float(g.abs().sum()) for g in grads]


def _loss_parts(trainable: Any, batch: FeatureBatch) -> LossTensors:
    parts = trainable.loss_tensors(batch)
    assert isinstance(parts, LossTensors)
    return parts


def _framework(trainable: Any) -> Any:
    return trainable.framework if isinstance(trainable, SoftmaxFramework) else trainable


@pytest.mark.parametrize("model_name", ["youtube_dnn", "fm"])
@pytest.mark.parametrize("loss", ["pointwise", "sampled_softmax"])
@pytest.mark.parametrize("routing", ROUTINGS)
def test_adaf2m2_routing_on_retrieval(model_name: str, loss: str, routing: str) -> None:
    trainable = _build("adaf2m2", loss, model_name, routing=routing)
    fw = _framework(trainable)
    base: BaseModel = fw.base
    adapter = tower_adapter(trainable)
    assert isinstance(adapter, TowerAdapter)
    parts = _loss_parts(trainable, _random_batch(48, seed=2))
    groups = {
        "embeddings": list(base.embedding_parameters()),
        "towers": _towers(base),
        "mask": list(fw.mask.parameters()),
        "user_adapter": list(adapter.user_adapter.parameters()),
        "item_adapter": list(adapter.item_adapter.parameters()),
    }
    main = {g: _grads(parts.main, ps) for g, ps in groups.items()}
    aux = {g: _grads(parts.aux, ps) for g, ps in groups.items()}
    # L_main: both sides' adapters and the towers learn; [MASK] gets exactly zero; the
    # embedding tables get exactly zero in the strict routing only.
    assert (sum(main["embeddings"]) == 0.0) == (routing == "strict")
    assert all(x == 0.0 for x in main["mask"])
    assert all(x > 0.0 for x in main["user_adapter"] + main["item_adapter"])
    assert sum(main["towers"]) > 0.0
    # L_aux: embeddings, [MASK] and the towers learn; neither adapter gets any gradient.
    assert sum(aux["embeddings"]) > 0.0
    assert all(x > 0.0 for x in aux["mask"])
    assert sum(aux["towers"]) > 0.0
    assert all(x == 0.0 for x in aux["user_adapter"] + aux["item_adapter"])
    assert float(parts.total.detach()) == pytest.approx(
        float(parts.main.detach()) + 0.2 * float(parts.aux.detach()), rel=1e-6
    )


@pytest.mark.parametrize("loss", ["pointwise", "sampled_softmax"])
def test_ablations_on_retrieval(loss: str) -> None:
    batch = _random_batch(48, seed=3)
    # Mask only: no adapter; L_main trains the embeddings and towers, L_aux [MASK] too.
    mask_only = _build("mask_only", loss)
    fw = _framework(mask_only)
    assert tower_adapter(mask_only) is None
    parts = _loss_parts(mask_only, batch)
    emb, towers, mask = (
        list(fw.base.embedding_parameters()),
        _towers(fw.base),
        list(fw.mask.parameters()),
    )
    assert sum(_grads(parts.main, emb)) > 0
    assert sum(_grads(parts.main, towers)) > 0
    assert _grads(parts.main, mask) == [0.0]
    assert sum(_grads(parts.aux, emb + mask + towers)) > 0
    assert _grads(parts.aux, mask)[0] > 0
    # Adapter only: no mask, no L_aux; L_main trains adapters, towers and embeddings.
    adapter_only = _build("adapter_only", loss)
    adapter = tower_adapter(adapter_only)
    assert isinstance(adapter, TowerAdapter)
    assert _framework(adapter_only).mask is None
    parts = _loss_parts(adapter_only, batch)
    base = _framework(adapter_only).base
    assert float(parts.aux.detach()) == 0.0
    assert all(x > 0 for x in _grads(parts.main, adapter.parameters()))
    assert sum(_grads(parts.main, list(base.embedding_parameters()))) > 0


def test_ssl_baseline_on_sampled_softmax_routing() -> None:
    trainable = _build("ssl_mask", "sampled_softmax")
    assert isinstance(trainable, SoftmaxFramework)
    assert tower_adapter(trainable) is None
    ssl = trainable.framework
    assert isinstance(ssl, SSLMask)
    parts = _loss_parts(trainable, _random_batch(64, seed=4))
    base: Any = ssl.base
    emb, towers = list(base.embedding_parameters()), _towers(base)
    encoder, mask = list(ssl.encoder.parameters()), [ssl.mask_embeddings]
    # L_main: the embeddings and towers; L_self: embeddings, [MASK] and encoder, not towers.
    assert sum(_grads(parts.main, emb)) > 0
    assert sum(_grads(parts.main, towers)) > 0
    assert sum(_grads(parts.main, encoder + mask)) == 0.0
    assert sum(_grads(parts.aux, emb)) > 0
    assert all(x > 0 for x in _grads(parts.aux, encoder + mask))
    assert sum(_grads(parts.aux, towers)) == 0.0
    total = float(parts.main.detach()) + ssl.config.ssl_weight * float(parts.aux.detach())
    assert float(parts.total.detach()) == pytest.approx(total, rel=1e-6)


def test_sampled_softmax_main_loss_of_mask_only_is_the_bare_softmax() -> None:
    # Same model, same negatives' stream: the main forward of a mode without an adapter is
    # exactly the bare sampled softmax (the refactored loss computes what it always did).
    batch = _random_batch(48, seed=5)
    model = _model("youtube_dnn")
    bare = _softmax(model).loss(batch)
    framed = SoftmaxFramework(
        _softmax(model), AdaF2M2(model, AdaF2M2Config(mode="mask_only"), rng=0)
    )
    assert float(framed.loss_tensors(batch).main.detach()) == float(bare.detach())


@pytest.mark.parametrize(("reduction", "factor"), [("sum", 3.0), ("mean", 1.0)])
def test_unmasked_copies_repeat_the_main_softmax(reduction: str, factor: float) -> None:
    # beta = gamma = 0 masks nothing: each copy is its rows and classes as they are, so each
    # copy's softmax is the main one (the copies are aligned with their rows and classes).
    model = _model("youtube_dnn")
    config = AdaF2M2Config(mode="mask_only", k=3, beta=0.0, gamma=0.0, aux_reduction=reduction)  # type: ignore[arg-type]
    framed = SoftmaxFramework(_softmax(model), AdaF2M2(model, config, rng=0))
    parts = framed.loss_tensors(_random_batch(48, seed=6))
    assert float(parts.aux.detach()) == pytest.approx(factor * float(parts.main.detach()), rel=1e-6)


def test_routings_share_their_forward_values_on_retrieval() -> None:
    batch = _random_batch(48, seed=7)
    mains = {
        float(_build("adaf2m2", "sampled_softmax", routing=r).loss_tensors(batch).main.detach())
        for r in ROUTINGS
    }
    assert len(mains) == 1


def test_a_batch_without_positives_is_a_no_op_step() -> None:
    trainable = _build("adaf2m2", "sampled_softmax")
    batch = _random_batch(16, seed=8)
    assert batch.labels is not None
    empty = replace(batch, labels=torch.zeros_like(batch.labels))
    loss = trainable.loss(empty)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert trainable.last_parts_.total == 0.0


@pytest.mark.parametrize("loss", ["pointwise", "sampled_softmax"])
def test_what_each_name_builds(loss: str) -> None:
    ss = loss == "sampled_softmax"
    none = _build("none", loss)
    assert isinstance(none, SampledSoftmax if ss else PlainModel)
    assert tower_adapter(none) is None
    for mode in ("adaf2m2", "mask_only", "adapter_only", "ssl_mask"):
        built = _build(mode, loss)
        assert isinstance(
            built, SoftmaxFramework if ss else (SSLMask if mode == "ssl_mask" else AdaF2M2)
        )
        assert (tower_adapter(built) is not None) == (mode in ("adaf2m2", "adapter_only"))


def test_towers_follow_the_models_owners() -> None:
    model = _model("youtube_dnn")
    user, item = retrieval_towers(model)
    assert [model.spec.names[f] for f in user.fields] == [
        "user_id",
        "age_band",
        "user_impressions_bucket",
        "user_likes_bucket",
        "user_comments_bucket",
    ]
    assert [model.spec.names[f] for f in item.id_fields] == ["item_id", "artist_id"]
    assert set(user.fields) | set(item.fields) == set(range(model.n_fields))  # none left over


@pytest.mark.parametrize("loss", ["pointwise", "sampled_softmax"])
def test_training_reduces_the_retrieval_loss(loss: str) -> None:
    trainable = _build("adaf2m2", loss)
    opt = torch.optim.Adam(trainable.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    users = rng.integers(0, N_USERS, 256)
    items = (users * 7) % N_ITEMS  # one preferred song per user: learnable
    labels = np.ones(256) if loss == "sampled_softmax" else (rng.random(256) < 0.8)
    if loss == "pointwise":
        # Negatives: random songs, mostly skipped.
        neg = rng.integers(0, N_ITEMS, 256)
        users, items = np.r_[users, users], np.r_[items, neg]
        labels = np.r_[labels, rng.random(256) < 0.1]
    batch = _batch(users, items, labels)

    def main() -> float:
        with torch.no_grad():
            return float(_loss_parts(trainable, batch).main.detach())

    before = main()
    for _ in range(40):
        opt.zero_grad()
        trainable.loss(batch).backward()
        opt.step()
    assert main() < before - 0.1, (before, main())
