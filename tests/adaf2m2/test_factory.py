"""Tests for adaf2m2/factory.py and the bare-model wrapper of adaf2m2/trainable.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from adaf2m2.config import FRAMEWORK_MODES, AdaF2M2Config
from adaf2m2.errors import FrameworkConfigError
from adaf2m2.factory import build_framework, framework_variant
from adaf2m2.framework import AdaF2M2
from adaf2m2.ssl_baseline import SSLMask
from adaf2m2.toy import ToyModel, make_toy_batch
from adaf2m2.trainable import PlainModel, TrainableModel


@pytest.mark.parametrize("name", FRAMEWORK_MODES)
def test_every_framework_trains_and_serves(name: str) -> None:
    fw = build_framework(name, ToyModel(n_tasks=2), AdaF2M2Config(k=3), rng=0)
    assert isinstance(fw, TrainableModel)
    assert isinstance(fw, torch.nn.Module)
    batch = make_toy_batch(32, rng=1, n_tasks=2)
    loss = fw.loss(batch)
    assert loss.dim() == 0
    loss.backward()
    assert fw.predict(batch).shape == (32, 2)
    if isinstance(fw, AdaF2M2):
        assert fw.config.mode == name
        assert fw.config.k == 3


def test_types_by_name() -> None:
    assert isinstance(build_framework("none", ToyModel()), PlainModel)
    assert isinstance(build_framework("ssl_mask", ToyModel()), SSLMask)
    assert isinstance(build_framework("adapter_only", ToyModel()), AdaF2M2)


def test_none_is_the_bare_model() -> None:
    base = ToyModel()
    fw = build_framework("none", base)
    batch = make_toy_batch(16, rng=2)
    assert batch.labels is not None
    torch.testing.assert_close(fw.predict(batch), base(batch))
    expected = F.binary_cross_entropy_with_logits(base(batch), batch.labels)
    torch.testing.assert_close(fw.loss(batch), expected)
    assert {id(p) for p in fw.parameters()} == {id(p) for p in base.parameters()}


def test_unknown_name() -> None:
    with pytest.raises(FrameworkConfigError, match=r"framework == 'adaf', must be one of"):
        build_framework("adaf", ToyModel())


@pytest.mark.parametrize(
    ("name", "routing", "reduction"),
    [
        ("adaf2m2", "joint", "sum"),
        ("adaf2m2:strict", "strict", "sum"),
        ("adaf2m2:mean:straight_through", "straight_through", "mean"),
        ("mask_only:mean", "joint", "mean"),
        ("adapter_only:straight_through", "straight_through", "sum"),
    ],
)
def test_framework_variants_name_their_options(name: str, routing: str, reduction: str) -> None:
    config = framework_variant(name)
    assert (config.mode, config.routing, config.aux_reduction) == (
        name.split(":")[0],
        routing,
        reduction,
    )
    fw = build_framework(name, ToyModel(), rng=0)
    assert isinstance(fw, AdaF2M2)
    assert (fw.config.routing, fw.config.aux_reduction) == (routing, reduction)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("mask_only:strict", r"'strict' is not an option of mode 'mask_only'"),
        ("adapter_only:mean", r"'mean' is not an option of mode 'adapter_only'"),
        ("adaf2m2:strict:joint", r"names its routing twice"),
        ("adapter_only:strict", r"AdaF2M2Config.routing == 'strict', needs a feature mask"),
        ("none:strict", r"'strict' is not an option of mode 'none'"),
    ],
)
def test_bad_framework_variants_are_refused(name: str, message: str) -> None:
    with pytest.raises(FrameworkConfigError, match=message):
        framework_variant(name)
