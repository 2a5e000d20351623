"""Tests for adaf2m2/tower_adapter.py: each side's weights from its own state only."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from adaf2m2.adapter import StateAwareAdapter
from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.protocol import COUNT_COLUMNS
from adaf2m2.tower_adapter import Tower, TowerAdapter

# user_id, item_id, artist_id, age (user), genre (item), a field owned by neither side.
OWNERS = ("user", "item", "item", "user", "item", "context")
IDS = (0, 1, 2)


def _adapter(owners: tuple[str, ...] = OWNERS, d: int = 3) -> TowerAdapter:
    return TowerAdapter(
        len(owners),
        d,
        Tower.of("user", owners, IDS),
        Tower.of("item", owners, IDS),
        hidden=(8,),
        generator=torch.Generator().manual_seed(0),
    )


def test_sides_own_their_fields_ids_and_counts() -> None:
    user, item = Tower.of("user", OWNERS, IDS), Tower.of("item", OWNERS, IDS)
    assert (user.fields, user.id_fields, user.count_columns) == ((0, 3), (0,), (0, 1, 2))
    assert (item.fields, item.id_fields, item.count_columns) == ((1, 2, 4), (1, 2), (3, 4, 5))
    assert all(COUNT_COLUMNS[c].startswith("user_") for c in user.count_columns)
    assert all(COUNT_COLUMNS[c].startswith("item_") for c in item.count_columns)


def test_user_weights_ignore_the_item_and_item_weights_ignore_the_user() -> None:
    adapter = _adapter()
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(16, 6, 3, generator=gen)
    counts = torch.rand(16, 6, generator=gen) * 50
    w = adapter(v, counts)
    # Another item (ID embeddings, meta, counts) for every row: the user's weights stay.
    other_item = v.clone()
    other_item[:, [1, 2, 4]] = torch.randn(16, 3, 3, generator=gen)
    other_counts = counts.clone()
    other_counts[:, 3:] = torch.rand(16, 3, generator=gen) * 500
    w_item_changed = adapter(other_item, other_counts)
    assert torch.equal(w_item_changed[:, [0, 3]], w[:, [0, 3]])
    assert not torch.allclose(w_item_changed[:, [1, 2, 4]], w[:, [1, 2, 4]])
    # Another user: the item's weights stay.
    other_user = v.clone()
    other_user[:, [0, 3]] = torch.randn(16, 2, 3, generator=gen)
    other_counts = counts.clone()
    other_counts[:, :3] = torch.rand(16, 3, generator=gen) * 500
    w_user_changed = adapter(other_user, other_counts)
    assert torch.equal(w_user_changed[:, [1, 2, 4]], w[:, [1, 2, 4]])
    assert not torch.allclose(w_user_changed[:, [0, 3]], w[:, [0, 3]])


def test_a_field_of_neither_side_keeps_weight_one() -> None:
    w = _adapter()(torch.randn(5, 6, 3), torch.zeros(5, 6))
    assert torch.equal(w[:, 5], torch.ones(5))
    assert bool(((w[:, :5] > 0) & (w[:, :5] < 1)).all())


def test_each_side_is_a_state_aware_adapter_on_its_own_signals() -> None:
    adapter = _adapter()
    v = torch.randn(4, 6, 3)
    counts = torch.rand(4, 6) * 10
    w = adapter(v, counts)
    user: StateAwareAdapter = adapter.user_adapter
    assert user.in_dim == 1 * 3 + 3 * 1 + 3  # r_ID of user_id, its 3 norms, 3 user counts
    assert adapter.item_adapter.in_dim == 2 * 3 + 3 * 2 + 3
    torch.testing.assert_close(w[:, [0, 3]], user(v[:, [0]], counts))
    torch.testing.assert_close(w[:, [1, 2, 4]], adapter.item_adapter(v[:, [1, 2]], counts))


def test_the_count_columns_are_the_sides_own() -> None:
    a = StateAwareAdapter(2, 2, 1, hidden=(4,), count_columns=(3, 4, 5))
    v_id = torch.zeros(2, 1, 2)
    counts = torch.tensor([[0.0] * 6, [1000.0, 1000.0, 1000.0, 0.0, 0.0, 0.0]])
    w = a(v_id, counts)
    torch.testing.assert_close(w[0], w[1])  # only the user's counts differ: not read
    assert a.state_inputs(v_id, counts).shape == (2, 2 + 3 + 3)


@pytest.mark.parametrize(
    ("make", "exc", "message"),
    [
        (lambda: Tower("user", (), (), (0,)), BaseModelError, r"Tower 'user' owns no field"),
        (
            lambda: Tower("item", (1, 2), (0, 1), (3,)),
            BaseModelError,
            r"Tower 'item' id_fields \(0, 1\) include \[0\], must be among its own fields",
        ),
        (lambda: Tower("user", (0, 0), (0,), ()), BaseModelError, r"fields \(0, 0\) repeat"),
        (
            lambda: TowerAdapter(
                3, 2, Tower("user", (0, 1), (0,), (0,)), Tower("item", (1, 2), (), (3,))
            ),
            FrameworkConfigError,
            r"Tower fields \[1\] are owned by both sides, must belong to one",
        ),
        (
            lambda: TowerAdapter(
                2, 2, Tower("user", (0,), (0,), (0,)), Tower("item", (1, 4), (1,), (3,))
            ),
            BaseModelError,
            r"Tower 'item' fields \(1, 4\), must be positions in \[0, 2\)",
        ),
        (
            lambda: StateAwareAdapter(2, 2, 1, count_columns=(6,)),
            FrameworkConfigError,
            r"count_columns=\(6,\)\), must be distinct positions in \[0, 6\)",
        ),
        (
            lambda: StateAwareAdapter(2, 2, 0, count_columns=()),
            FrameworkConfigError,
            r"needs at least one state signal",
        ),
    ],
)
def test_invalid_construction(make: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        make()


def test_invalid_inputs() -> None:
    adapter = _adapter()
    with pytest.raises(BaseModelError, match=r"v.shape == \(4, 5, 3\), must be \(B, 6, 3\)"):
        adapter(torch.zeros(4, 5, 3), torch.zeros(4, 6))
    with pytest.raises(BaseModelError, match=r"batch.counts.shape == \(4, 3\), must be \(B, 6\)"):
        adapter(torch.zeros(4, 6, 3), torch.zeros(4, 3))
    with pytest.raises(FrameworkConfigError, match=r"side == 'context', must be 'user' or 'item'"):
        adapter.side_weights("context", torch.zeros(4, 6, 3), torch.zeros(4, 6))
