"""Conformance suite over every registered base model, plus model-specific checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch, WrappableModel
from agents.features import FeatureSpec
from agents.models.base import ModelConfig
from agents.models.dcnv2 import DCNV2Config
from agents.models.fm import fm_interaction, fm_interaction_explicit
from agents.models.registry import MODELS, build_model, model_names
from simulator.errors import ConfigError
from simulator.types import FieldSpec

USER_FIELDS = (
    FieldSpec("user_id", "user", "id", 30),
    FieldSpec("age_band", "user", "meta", 5),
)
ITEM_FIELDS = (
    FieldSpec("item_id", "item", "id", 40),
    FieldSpec("artist_id", "item", "id", 8),
    FieldSpec("genre", "item", "meta", 6),
)


def tiny_spec(history_len: int = 0) -> FeatureSpec:
    return FeatureSpec.from_fields(
        USER_FIELDS, ITEM_FIELDS, n_count_buckets=4, history_len=history_len
    )


def random_batch(spec: FeatureSpec, n: int, seed: int) -> FeatureBatch:
    rng = np.random.default_rng(seed)
    users = np.stack([rng.integers(0, 35, n), rng.integers(0, 5, n)], axis=1)
    items = np.stack([rng.integers(0, 45, n), rng.integers(0, 8, n), rng.integers(0, 6, n)], 1)
    counts = rng.poisson(3.0, (n, len(COUNT_COLUMNS))).astype(np.float32)
    hist = rng.integers(-1, 40, (n, spec.history_len)) if spec.history_len else None
    return spec.make_batch(spec.encode(users, items, counts), counts, history=hist)


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("history_len", [0, 3])
@pytest.mark.parametrize("tasks", [("finish",), ("finish", "like", "listen_fraction")])
def test_conformance(name: str, history_len: int, tasks: tuple[str, ...]) -> None:
    spec = tiny_spec(history_len)
    cfg = ModelConfig(embed_dim=4, tasks=tasks, hidden_dims=(8,))
    model = build_model(name, spec, cfg, torch.Generator().manual_seed(3)).eval()
    assert isinstance(model, WrappableModel)
    batch = random_batch(spec, 17, seed=1)
    v = model.embed(batch)
    n_fields = spec.n_fields + (1 if history_len else 0)
    assert v.shape == (17, n_fields, 4)
    assert v.dtype == torch.float32
    assert model.n_fields == n_fields
    assert model.embed_dim == 4
    assert model.id_fields == (0, 1, 2)
    logits = model.head(v)
    assert logits.shape == (17, len(tasks))
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(model(batch), logits, rtol=0, atol=0)
    # embedding and head parameters partition the model's parameters
    emb = {id(p) for p in model.embedding_parameters()}
    head = {id(p) for p in model.head_parameters()}
    assert not emb & head
    assert emb | head == {id(p) for p in model.parameters()}
    # same seed -> identical weights and outputs; other seed -> different outputs
    same = build_model(name, spec, cfg, torch.Generator().manual_seed(3)).eval()
    other = build_model(name, spec, cfg, torch.Generator().manual_seed(4)).eval()
    torch.testing.assert_close(same(batch), logits, rtol=0, atol=0)
    assert not torch.equal(other(batch), logits)
    # every parameter receives a gradient from the main loss
    model.train()
    model(batch).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname


@pytest.mark.parametrize("name", model_names())
def test_rows_are_independent_of_batch_composition(name: str) -> None:
    spec = tiny_spec(2)
    model = build_model(name, spec, ModelConfig(embed_dim=4, hidden_dims=(8,))).eval()
    batch = random_batch(spec, 12, seed=5)
    full = model(batch)
    assert batch.history is not None
    part = FeatureBatch(batch.fields[:5], batch.counts[:5], None, batch.history[:5])
    torch.testing.assert_close(model(part), full[:5], rtol=1e-6, atol=1e-6)


def test_unseen_ids_use_the_oov_row() -> None:
    spec = tiny_spec()
    model = build_model("fm", spec, ModelConfig(embed_dim=4))
    batch = random_batch(spec, 50, seed=2)
    v = model.embed(batch)
    user_cap = spec.capacities[0]
    codes = batch.fields[:, 0]
    oov = codes >= user_cap
    assert oov.any()
    assert (~oov).any()
    # all unseen users share one row; it differs from the row of user 0
    torch.testing.assert_close(v[oov, 0], v[oov, 0][:1].expand(int(oov.sum()), -1))
    oov_row = model.embedding.weight[int(model.offsets[0]) + user_cap]
    torch.testing.assert_close(v[oov, 0][0], oov_row)


def test_fm_fast_interaction_equals_explicit_pairwise_sum() -> None:
    g = torch.Generator().manual_seed(0)
    v = torch.randn(9, 7, 5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        fm_interaction(v), fm_interaction_explicit(v), rtol=1e-12, atol=1e-12
    )


def test_dcnv2_parallel_structure() -> None:
    spec = tiny_spec()
    model = build_model("dcnv2", spec, DCNV2Config(embed_dim=4, structure="parallel"))
    assert model(random_batch(spec, 3, seed=0)).shape == (3, 1)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: ModelConfig(embed_dim=0), "embed_dim == 0"),
        (lambda: ModelConfig(tasks=("click",)), "tasks contains 'click'"),
        (lambda: ModelConfig(tasks=()), "at least one"),
        (lambda: ModelConfig(hidden_dims=(4, 0)), "hidden_dims"),
        (lambda: DCNV2Config(structure="mixed"), "structure == 'mixed'"),  # type: ignore[arg-type]
        (lambda: build_model("xgboost", tiny_spec()), "model == 'xgboost'"),
        (lambda: build_model("fm", tiny_spec(), DCNV2Config()), "DCNV2Config"),
    ],
)
def test_invalid_configs(call, pattern: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=pattern):
        call()


def test_registry_has_the_paper_models() -> None:
    assert {"fm", "youtube_dnn", "afn", "dcnv2", "eulernet"} <= set(MODELS)


def test_youtube_dnn_towers_read_only_their_own_fields() -> None:
    spec = tiny_spec(history_len=2)
    model = build_model("youtube_dnn", spec, ModelConfig(embed_dim=4, hidden_dims=(8,))).eval()
    a = model.embed(random_batch(spec, 6, seed=1))
    b = a.clone()
    item_pos = model.owned("item")
    user_pos = model.owned("user")
    assert sorted(item_pos + user_pos) == list(range(model.n_fields))
    b[:, item_pos] = torch.randn(6, len(item_pos), 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.user_vector(a), model.user_vector(b))  # type: ignore[operator]
    assert not torch.equal(model.item_vector(a), model.item_vector(b))  # type: ignore[operator]
