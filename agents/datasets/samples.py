"""Encoded training samples in memory and their split into train, validation and test.

A :class:`Samples` holds one row per logged impression (or rating), already encoded by a
:class:`~agents.features.FeatureSpec`: field codes, the raw counts seen before the event,
all labels of ``agents.features.TASKS`` and, optionally, the user's recent items. Loaders
(``agents.datasets.sim``, ``agents.datasets.movielens``) produce an :class:`OfflineData`: the spec,
the samples, a split and cohort flags for the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch
from agents.features import TASKS, FeatureSpec
from simulator.errors import ConfigError


@dataclass(frozen=True)
class Samples:
    """Encoded samples, one row each.

    Attributes:
        fields: ``(n, n_fields)`` int64 codes in the spec's column order.
        counts: ``(n, len(COUNT_COLUMNS))`` float32 counts seen before each sample.
        labels: ``(n, len(TASKS))`` float32 labels in ``TASKS`` order.
        user_ids: ``(n,)`` int64 user of each sample (UAUC groups by it).
        item_ids: ``(n,)`` int64 item of each sample (head/tail cohorts).
        new_user: ``(n,)`` bool, the user was new when the sample was logged.
        history: ``(n, history_len)`` int64 recent items, ``-1`` padding, or ``None``.
    """

    fields: NDArray[np.int64]
    counts: NDArray[np.float32]
    labels: NDArray[np.float32]
    user_ids: NDArray[np.int64]
    item_ids: NDArray[np.int64]
    new_user: NDArray[np.bool_]
    history: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        n = self.fields.shape[0]
        shapes = {
            "counts": (self.counts.shape, (n, len(COUNT_COLUMNS))),
            "labels": (self.labels.shape, (n, len(TASKS))),
            "user_ids": (self.user_ids.shape, (n,)),
            "item_ids": (self.item_ids.shape, (n,)),
            "new_user": (self.new_user.shape, (n,)),
        }
        for name, (got, want) in shapes.items():
            if got != want:
                raise ConfigError(f"{name} has shape {got}, must be {want}")
        if self.history is not None and self.history.shape[0] != n:
            raise ConfigError(f"history has {self.history.shape[0]} rows, must have {n}")

    def __len__(self) -> int:
        return int(self.fields.shape[0])

    def take(self, idx: NDArray[np.int64]) -> Samples:
        """The rows ``idx`` as new samples."""
        return Samples(
            self.fields[idx],
            self.counts[idx],
            self.labels[idx],
            self.user_ids[idx],
            self.item_ids[idx],
            self.new_user[idx],
            None if self.history is None else self.history[idx],
        )

    def label(self, task: str) -> NDArray[np.float32]:
        """``(n,)`` labels of one task."""
        return self.labels[:, TASKS.index(task)]


class TensorSamples:
    """:class:`Samples` as torch tensors, sliced into :class:`FeatureBatch` es cheaply."""

    def __init__(self, samples: Samples, tasks: tuple[str, ...]) -> None:
        cols = [TASKS.index(t) for t in tasks]
        self.fields = torch.from_numpy(np.ascontiguousarray(samples.fields, dtype=np.int64))
        self.counts = torch.from_numpy(np.ascontiguousarray(samples.counts, dtype=np.float32))
        self.labels = torch.from_numpy(np.ascontiguousarray(samples.labels[:, cols]))
        self.history = (
            None
            if samples.history is None
            else torch.from_numpy(np.ascontiguousarray(samples.history, dtype=np.int64))
        )

    def __len__(self) -> int:
        return int(self.fields.shape[0])

    def batch(self, idx: torch.Tensor | slice) -> FeatureBatch:
        """Rows ``idx`` as a batch with labels."""
        return FeatureBatch(
            self.fields[idx],
            self.counts[idx],
            self.labels[idx],
            None if self.history is None else self.history[idx],
        )


@dataclass(frozen=True)
class OfflineData:
    """A data set ready for offline training and evaluation.

    Attributes:
        name: Where it came from, e.g. ``"sim:runs/quick"`` or ``"movielens:data/ml-100k"``.
        spec: The feature spec the samples are encoded with.
        train: Training samples.
        valid: Validation samples (early stopping).
        test: Test samples (the reported metrics).
        split: How the split was made, e.g. ``"random 6:2:2, seed 0"``.
    """

    name: str
    spec: FeatureSpec
    train: Samples
    valid: Samples
    test: Samples
    split: str


def split_indices(
    n: int,
    fractions: tuple[float, float, float],
    rng: int | np.random.Generator | np.random.SeedSequence | None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Random train/validation/test indices in the given proportions (e.g. 6:2:2)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ConfigError(f"fractions == {fractions}, must be three non-negative numbers")
    gen = np.random.default_rng(rng)
    perm = gen.permutation(n).astype(np.int64)
    total = sum(fractions)
    a = round(n * fractions[0] / total)
    b = a + round(n * fractions[1] / total)
    return np.sort(perm[:a]), np.sort(perm[a:b]), np.sort(perm[b:])


def time_split_indices(
    times: NDArray[np.int64], fractions: tuple[float, float, float]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Split by time: the earliest ``fractions[0]`` of samples train, then validation, test.

    Ties in time are kept together (a cut never falls inside one time value), so no sample
    trains on a batch whose neighbours are tested.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ConfigError(f"fractions == {fractions}, must be three non-negative numbers")
    order = np.argsort(times, kind="stable")
    total = sum(fractions)
    q1 = np.quantile(times, fractions[0] / total, method="lower") if times.size else 0
    q2 = (
        np.quantile(times, (fractions[0] + fractions[1]) / total, method="lower")
        if times.size
        else 0
    )
    t = times[order]
    train = order[t <= q1]
    valid = order[(t > q1) & (t <= q2)]
    test = order[t > q2]
    return np.sort(train), np.sort(valid), np.sort(test)


__all__ = ["OfflineData", "Samples", "TensorSamples", "split_indices", "time_split_indices"]
