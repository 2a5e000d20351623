"""The online learner's store of loss weights (the weighted training-data design)."""

from __future__ import annotations

import pickle

import numpy as np

from agents.online import _Rows


def _chunk(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((n, 2), np.int64), np.zeros((n, 6), np.float32), np.zeros((n, 1), np.float32)


def test_unweighted_rows_take_no_weights() -> None:
    rows = _Rows(2, 6, 1)
    rows.add(*_chunk(3))
    rows.add(*_chunk(2))
    assert rows.take()[3] is None


def test_a_chunk_without_weights_weighs_one_beside_weighted_ones() -> None:
    rows = _Rows(2, 6, 1)
    rows.add(*_chunk(2))
    rows.add(*_chunk(3), np.array([0.5, 2.0, 0.0], np.float32))
    np.testing.assert_array_equal(rows.take()[3], [1.0, 1.0, 0.5, 2.0, 0.0])
    rows.clear()
    assert rows.n == 0
    assert rows.take()[3] is None


def test_a_store_pickled_before_weights_existed_loads_unweighted() -> None:
    rows = _Rows(2, 6, 1)
    rows.add(*_chunk(4))
    state = dict(rows.__dict__)
    del state["weights"]  # what a checkpoint of the earlier code holds
    old = _Rows.__new__(_Rows)
    old.__setstate__(state)
    again = pickle.loads(pickle.dumps(old))
    assert again.take()[3] is None
    again.add(*_chunk(1), np.array([3.0], np.float32))
    np.testing.assert_array_equal(again.take()[3], [1, 1, 1, 1, 3])
