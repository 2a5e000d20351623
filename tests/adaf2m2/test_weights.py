"""Tests for adaf2m2/weights.py: mean adapter weights by user state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from adaf2m2.config import AdaF2M2Config
from adaf2m2.errors import FrameworkError
from adaf2m2.framework import AdaF2M2
from adaf2m2.protocol import FeatureBatch
from adaf2m2.toy import ToyModel, make_toy_batch
from adaf2m2.weights import adapter_weights_by_state


class _Fixed:
    """A stand-in framework whose weights are known: row i of batch j is table[offset + i]."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table
        self.offset = 0

    def adapter_weights(self, batch: FeatureBatch) -> torch.Tensor:
        n = len(batch)
        out = torch.from_numpy(self.table[self.offset : self.offset + n])
        self.offset += n
        return out


def _batches(sizes: list[int]) -> list[FeatureBatch]:
    return [
        FeatureBatch(fields=torch.zeros(n, 1, dtype=torch.int64), counts=torch.zeros(n, 6))
        for n in sizes
    ]


def test_group_means_match_pandas_groupby() -> None:
    gen = np.random.default_rng(0)
    n, f = 500, 4
    table = gen.random((n, f))
    is_new = gen.random(n) < 0.3
    activity = gen.pareto(1.5, size=n)
    result = adapter_weights_by_state(
        _Fixed(table), _batches([200, 250, 50]), is_new, activity, field_names=list("abcd")
    )
    # Independent computation: pandas qcut deciles and groupby means.
    frame = pd.DataFrame(table, columns=list("abcd"))
    frame["new"] = is_new
    frame["decile"] = pd.qcut(activity, 10, labels=False)
    wide = result.to_pandas()
    np.testing.assert_allclose(
        wide.loc["all", list("abcd")], frame[list("abcd")].mean(), rtol=1e-12
    )
    by_new = frame.groupby("new")[list("abcd")].mean()
    np.testing.assert_allclose(wide.loc["new", list("abcd")], by_new.loc[True], rtol=1e-12)
    np.testing.assert_allclose(wide.loc["old", list("abcd")], by_new.loc[False], rtol=1e-12)
    by_dec = frame.groupby("decile")[list("abcd")].mean()
    for d in range(10):
        np.testing.assert_allclose(
            wide.loc[f"activity_d{d + 1}", list("abcd")], by_dec.loc[d], rtol=1e-12
        )
    assert wide.loc["new", "n_examples"] == is_new.sum()
    assert wide["n_examples"].iloc[3:].sum() == n
    assert len(result.to_dicts()) == len(result.states) * f
    assert "activity_d10" in str(result)


def test_on_a_real_framework_weights_are_in_unit_interval() -> None:
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(), rng=0)
    batches = [make_toy_batch(100, rng=i) for i in range(3)]
    counts = torch.cat([b.counts for b in batches])
    activity = counts[:, 0].numpy()
    result = adapter_weights_by_state(fw, batches, activity < 5, activity)
    assert result.mean_weights.shape == (13, 6)
    finite = result.mean_weights[result.n_examples > 0]
    assert np.all((finite > 0) & (finite < 1))


def test_empty_group_gives_nan_and_zero_count() -> None:
    table = np.full((20, 2), 0.5)
    result = adapter_weights_by_state(
        _Fixed(table), _batches([20]), np.zeros(20, bool), np.arange(20.0)
    )
    new = result.states.index("new")
    assert result.n_examples[new] == 0
    assert np.all(np.isnan(result.mean_weights[new]))


@pytest.mark.parametrize(
    ("is_new", "activity", "names", "message"),
    [
        (np.zeros(9, bool), np.zeros(10), None, r"len\(user_is_new\) == 9, must equal .* == 10"),
        (np.zeros(10, bool), np.zeros(11), None, r"len\(user_activity\) == 11"),
        (np.zeros(10, bool), np.full(10, np.nan), None, r"non-finite"),
        (
            np.zeros(10, bool),
            np.zeros(10),
            ["a"],
            r"len\(field_names\) == 1, must equal n_fields == 2",
        ),
    ],
)
def test_invalid_inputs(
    is_new: np.ndarray, activity: np.ndarray, names: list[str] | None, message: str
) -> None:
    with pytest.raises(FrameworkError, match=message):
        adapter_weights_by_state(_Fixed(np.zeros((10, 2))), _batches([10]), is_new, activity, names)


def test_no_batches() -> None:
    with pytest.raises(FrameworkError, match=r"batches is empty"):
        adapter_weights_by_state(_Fixed(np.zeros((1, 1))), [], [], [])
