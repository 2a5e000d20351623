"""Tests for agents.features: field order, OOV policy inputs, causal counts and history."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaf2m2.protocol import COUNT_COLUMNS
from agents.features import FeatureSpec, count_buckets, counts_before, history_before
from simulator.errors import ConfigError
from simulator.types import FieldSpec

USER = (FieldSpec("user_id", "user", "id", 10), FieldSpec("age_band", "user", "meta", 4))
ITEM = (
    FieldSpec("item_id", "item", "id", 20),
    FieldSpec("genre", "item", "meta", 5),
    FieldSpec("artist_id", "item", "id", 7),
)


def test_field_order_ids_then_meta_then_counts() -> None:
    spec = FeatureSpec.from_fields(USER, ITEM, n_count_buckets=3, id_capacity=50)
    assert spec.names[:5] == ("user_id", "item_id", "artist_id", "age_band", "genre")
    assert spec.names[5:] == tuple(f"{c}_bucket" for c in COUNT_COLUMNS)
    assert spec.id_fields == (0, 1, 2)
    assert spec.capacities[:5] == (50, 50, 50, 4, 5)
    owners = [f.owner for f in spec.fields]
    assert owners[5:] == ["user"] * 3 + ["item"] * 3


def test_encode_places_columns_and_buckets() -> None:
    spec = FeatureSpec.from_fields(USER, ITEM, n_count_buckets=3)
    users = np.array([[3, 1], [9, 2]])
    items = np.array([[11, 4, 6], [0, 0, 1]])
    counts = np.array([[0, 1, 2, 3, 100, 0], [7, 0, 0, 0, 0, 1]], dtype=np.float32)
    codes = spec.encode(users, items, counts)
    assert codes[:, :5].tolist() == [[3, 11, 6, 1, 4], [9, 0, 1, 2, 0]]
    # floor(log2(1 + c)) capped at 2: 0->0, 1->1, 2->1, 3->2, 100->2, 7->2
    assert codes[:, 5:].tolist() == [[0, 1, 1, 2, 2, 0], [2, 0, 0, 0, 0, 1]]
    batch = spec.make_batch(codes, counts)
    assert batch.fields.shape == (2, spec.n_fields)
    assert batch.history is None


def test_count_buckets_by_hand() -> None:
    assert count_buckets(np.array([0, 1, 2, 3, 6, 7, 1e9]), 5).tolist() == [0, 1, 1, 2, 2, 3, 4]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 6), st.integers(0, 3)),
        min_size=1,
        max_size=40,
    )
)
def test_counts_before_equals_brute_force(rows: list[tuple[int, int, int]]) -> None:
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    times = np.array([r[1] for r in rows], dtype=np.int64)
    vals = np.array([r[2] for r in rows], dtype=np.float64)
    want = [vals[(keys == k) & (times < t)].sum() for k, t in zip(keys, times, strict=True)]
    np.testing.assert_array_equal(counts_before(keys, times, vals), want)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 8), st.integers(0, 9), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 4),
)
def test_history_before_equals_brute_force(
    rows: list[tuple[int, int, int, bool]], length: int
) -> None:
    users = np.array([r[0] for r in rows], dtype=np.int64)
    times = np.array([r[1] for r in rows], dtype=np.int64)
    items = np.array([r[2] for r in rows], dtype=np.int64)
    pos = np.array([r[3] for r in rows], dtype=bool)
    got = history_before(users, times, items, pos, length)
    order = np.lexsort((times, users))  # stable by (user, time, original position)
    for n in range(len(rows)):
        earlier = [
            int(items[j]) for j in order if users[j] == users[n] and times[j] < times[n] and pos[j]
        ]
        want = (earlier[::-1] + [-1] * length)[:length]
        assert got[n].tolist() == want


class FakeWorld:
    """A minimal ObservableWorld for the batch builder."""

    user_fields = USER
    item_fields = ITEM

    def user_features(self, user_ids: np.ndarray) -> np.ndarray:
        return np.stack([user_ids, user_ids % 4], axis=1)

    def item_features(self, item_ids: np.ndarray) -> np.ndarray:
        return np.stack([item_ids, item_ids % 5, item_ids % 7], axis=1)


def test_batch_from_world() -> None:
    world = FakeWorld()
    spec = FeatureSpec.from_world(world, n_count_buckets=0, history_len=2)  # type: ignore[arg-type]
    counts = np.zeros((3, 6), dtype=np.float32)
    batch = spec.batch_from_world(world, np.array([1, 2, 3]), np.array([4, 5, 6]), counts)  # type: ignore[arg-type]
    assert batch.fields.tolist() == [[1, 4, 4, 1, 4], [2, 5, 5, 2, 0], [3, 6, 6, 3, 1]]
    assert batch.history is not None
    assert batch.history.tolist() == [[-1, -1]] * 3


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: FeatureSpec.from_fields(USER[1:], ITEM), "user_fields\\[0\\] is 'age_band'"),
        (lambda: FeatureSpec.from_fields(USER, ITEM[1:]), "item_fields\\[0\\] is 'genre'"),
        (lambda: FeatureSpec.from_fields(USER, ITEM, id_capacity=0), "id_capacity == 0"),
        (lambda: FeatureSpec.from_fields(USER, ITEM, n_count_buckets=-1), "n_count_buckets"),
        (lambda: FeatureSpec.from_fields(USER, ITEM, history_len=-1), "history_len == -1"),
        (
            lambda: FeatureSpec.from_fields(USER, ITEM).encode(
                np.zeros((2, 1), np.int64), np.zeros((2, 3), np.int64), np.zeros((2, 6))
            ),
            r"user_codes has shape \(2, 1\)",
        ),
        (lambda: FeatureSpec.from_fields(USER, ITEM).index("mood"), "'mood' is not in"),
    ],
)
def test_invalid_specs(call, pattern: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=pattern):
        call()
