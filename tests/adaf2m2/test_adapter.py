"""Tests for adaf2m2/adapter.py: state inputs, output range, initialisation, errors."""

from __future__ import annotations

import math

import pytest
import torch

from adaf2m2.adapter import StateAwareAdapter
from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.protocol import COUNT_COLUMNS


def test_state_inputs_by_hand() -> None:
    a = StateAwareAdapter(n_fields=4, embed_dim=2, n_id_fields=2, hidden=(3,))
    v_id = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]])  # norms 5 and 0
    counts = torch.tensor([[0.0, 1.0, math.e - 1.0, 9.0, -2.0, 0.0]])
    x = a.state_inputs(v_id, counts)[0].tolist()
    assert x[:4] == [3.0, 4.0, 0.0, 0.0]  # r_ID
    expected_norm = [math.log(6.0), 0.0, math.sqrt(5.0), 1e-6, 25.0, 0.0]  # log1p, sqrt, square
    assert x[4:10] == pytest.approx(expected_norm, abs=1e-6)
    expected_counts = [0.0, math.log(2.0), 1.0, math.log(10.0), 0.0, 0.0]  # log1p, clip < 0
    assert x[10:] == pytest.approx(expected_counts, abs=1e-6)
    assert a.in_dim == len(x) == 2 * 2 + 3 * 2 + len(COUNT_COLUMNS)


def test_weights_are_in_unit_interval_one_per_field_and_start_near_sigmoid_bias() -> None:
    a = StateAwareAdapter(n_fields=7, embed_dim=3, n_id_fields=3, hidden=(16, 8), init_bias=2.0)
    w = a(torch.randn(50, 3, 3) * 0.1, torch.zeros(50, len(COUNT_COLUMNS)))
    assert w.shape == (50, 7)
    assert bool(((w > 0) & (w < 1)).all())
    # Small inputs through default-scale hidden layers: weights stay near sigmoid(2) = 0.88.
    assert float(w.detach().mean()) == pytest.approx(1 / (1 + math.exp(-2.0)), abs=0.1)


def test_initialisation_follows_the_generator_only() -> None:
    def make(seed: int) -> StateAwareAdapter:
        return StateAwareAdapter(5, 3, 2, generator=torch.Generator().manual_seed(seed))

    p1 = torch.cat([p.flatten() for p in make(1).parameters()])
    p1b = torch.cat([p.flatten() for p in make(1).parameters()])
    p2 = torch.cat([p.flatten() for p in make(2).parameters()])
    assert torch.equal(p1, p1b)
    assert not torch.equal(p1, p2)


def test_the_adapter_responds_to_counts() -> None:
    a = StateAwareAdapter(5, 3, 2)
    v_id = torch.zeros(2, 2, 3)
    counts = torch.tensor([[0.0] * 6, [1000.0] * 6])
    w = a(v_id, counts)
    assert not torch.allclose(w[0], w[1])


@pytest.mark.parametrize(
    ("v_shape", "c_shape", "message"),
    [
        ((4, 3, 3), (4, 6), r"v_id.shape == \(4, 3, 3\), must be \(B, 2, 3\)"),
        ((4, 2, 3), (4, 5), r"batch.counts.shape == \(4, 5\), must be \(B, 6\)"),
        ((4, 2, 3), (4,), r"batch.counts.shape == \(4,\)"),
    ],
)
def test_invalid_inputs(v_shape: tuple[int, ...], c_shape: tuple[int, ...], message: str) -> None:
    a = StateAwareAdapter(5, 3, 2)
    with pytest.raises(BaseModelError, match=message):
        a(torch.zeros(v_shape), torch.zeros(c_shape))


def test_invalid_sizes() -> None:
    with pytest.raises(FrameworkConfigError, match=r"n_fields=0"):
        StateAwareAdapter(0, 3, 2)
