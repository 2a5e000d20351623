"""Every registered base model of ``agents.models`` wrapped by every framework.

Tests may import ``agents`` (the dependency rule binds the package, not its tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from adaf2m2.config import FRAMEWORK_MODES, AdaF2M2Config
from adaf2m2.factory import build_framework
from adaf2m2.framework import AdaF2M2
from adaf2m2.mask import FeatureMask
from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch
from agents.features import FeatureSpec
from agents.models.base import ModelConfig
from agents.models.registry import build_model, model_names
from simulator.types import FieldSpec

USER_FIELDS = (FieldSpec("user_id", "user", "id", 30), FieldSpec("age_band", "user", "meta", 5))
ITEM_FIELDS = (
    FieldSpec("item_id", "item", "id", 40),
    FieldSpec("artist_id", "item", "id", 8),
    FieldSpec("genre", "item", "meta", 6),
)


def _spec(history_len: int) -> FeatureSpec:
    return FeatureSpec.from_fields(
        USER_FIELDS, ITEM_FIELDS, n_count_buckets=4, history_len=history_len
    )


def _batch(spec: FeatureSpec, n: int, n_tasks: int, seed: int) -> FeatureBatch:
    rng = np.random.default_rng(seed)
    users = np.stack([rng.integers(0, 30, n), rng.integers(0, 5, n)], axis=1)
    items = np.stack([rng.integers(0, 40, n), rng.integers(0, 8, n), rng.integers(0, 6, n)], 1)
    counts = rng.poisson(3.0, (n, len(COUNT_COLUMNS))).astype(np.float32)
    labels = (rng.random((n, n_tasks)) < 0.4).astype(np.float32)
    hist = rng.integers(-1, 40, (n, spec.history_len)) if spec.history_len else None
    return spec.make_batch(spec.encode(users, items, counts), counts, labels, history=hist)


def _model(name: str, history_len: int, tasks: tuple[str, ...]) -> Any:
    cfg = ModelConfig(embed_dim=4, tasks=tasks, hidden_dims=(8,))
    return build_model(name, _spec(history_len), cfg, torch.Generator().manual_seed(0))


def _grad_sum(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> float:
    if not params:
        return 0.0
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return sum(0.0 if g is None else float(g.abs().sum()) for g in grads)


@pytest.mark.parametrize("routing", ["joint", "strict", "straight_through"])
@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("history_len", [0, 3])
def test_adaf2m2_routing_on_every_model(name: str, history_len: int, routing: str) -> None:
    tasks = ("finish", "like")
    base = _model(name, history_len, tasks)
    fw = AdaF2M2(base, AdaF2M2Config(k=2, routing=routing), rng=0)  # type: ignore[arg-type]
    assert fw.mask is not None
    assert fw.adapter is not None
    parts = fw.loss_tensors(_batch(_spec(history_len), 48, len(tasks), seed=1))
    emb, head = list(base.embedding_parameters()), list(base.head_parameters())
    mask, adapter = list(fw.mask.parameters()), list(fw.adapter.parameters())
    # The embedding tables get exactly zero from L_main in the strict routing only.
    assert (_grad_sum(parts.main, emb) == 0.0) == (routing == "strict")
    assert _grad_sum(parts.main, mask) == 0.0
    assert _grad_sum(parts.main, adapter) > 0.0
    assert _grad_sum(parts.main, head) > 0.0
    assert _grad_sum(parts.aux, adapter) == 0.0
    assert _grad_sum(parts.aux, emb) > 0.0
    assert _grad_sum(parts.aux, mask) > 0.0
    assert _grad_sum(parts.aux, head) > 0.0


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("framework", FRAMEWORK_MODES)
def test_every_framework_wraps_every_model(
    name: str, framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(3)
    fw = build_framework(framework, _model(name, 3, ("finish",)), AdaF2M2Config(k=2), rng=0)
    batch = _batch(spec, 32, 1, seed=2)
    loss = fw.loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    calls = {"n": 0}
    original = FeatureMask.forward

    def counting(self: FeatureMask, *a: Any, **k: Any) -> Any:
        calls["n"] += 1
        return original(self, *a, **k)

    monkeypatch.setattr(FeatureMask, "forward", counting)
    with torch.no_grad():
        out = fw.predict(batch)
    assert out.shape == (32, 1)
    assert torch.isfinite(out).all()
    assert calls["n"] == 0
