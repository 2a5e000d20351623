"""Online learning on the stream: buffer feedback as it arrives, update on a schedule.

An agent adds every served example (its features as they were at serving time and the
observed labels) to an :class:`OnlineLearner`; a trainer hook calls :meth:`update` every
``train_every_minutes`` of simulated time, which makes one shuffled pass of mini-batch
Adam steps over the examples that arrived since the last update. A bounded replay of recent
examples serves the warm start at the end of the pre-period.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from adaf2m2.protocol import FeatureBatch
from adaf2m2.trainable import TrainableModel
from agents.features import FeatureSpec
from agents.row_adam import build_optimizer

Weights = NDArray[np.float32] | None
"""Per-example loss weights of a set of examples (``None``: every one weighs 1)."""


class _Rows:
    """Growable columnar store of encoded examples (fields, counts, labels, loss weights).

    A chunk added without weights weighs 1; :meth:`take` gives ``None`` for the weights when
    no chunk has any, so that unweighted training runs exactly as before weights existed.
    """

    def __init__(self, n_fields: int, n_counts: int, n_tasks: int) -> None:
        self.fields: list[NDArray[np.int64]] = []
        self.counts: list[NDArray[np.float32]] = []
        self.labels: list[NDArray[np.float32]] = []
        self.weights: list[NDArray[np.float32] | None] = []
        self.shape = (n_fields, n_counts, n_tasks)
        self.n = 0

    def __setstate__(self, state: dict[str, object]) -> None:
        # Checkpoints written before the weights existed hold unweighted chunks only.
        self.__dict__.update(state)
        if "weights" not in state:
            self.weights = [None] * len(self.fields)

    def add(
        self,
        f: NDArray[np.int64],
        c: NDArray[np.float32],
        y: NDArray[np.float32],
        w: NDArray[np.float32] | None = None,
    ) -> None:
        self.fields.append(f)
        self.counts.append(c)
        self.labels.append(y)
        self.weights.append(w)
        self.n += f.shape[0]

    def take(
        self,
    ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32], Weights]:
        nf, nc, nt = self.shape
        if not self.n:
            return (
                np.zeros((0, nf), np.int64),
                np.zeros((0, nc), np.float32),
                np.zeros((0, nt), np.float32),
                None,
            )
        weights = None
        if any(w is not None for w in self.weights):
            weights = np.concatenate(
                [
                    np.ones(f.shape[0], np.float32) if w is None else w
                    for f, w in zip(self.fields, self.weights, strict=True)
                ]
            )
        return (
            np.concatenate(self.fields),
            np.concatenate(self.counts),
            np.concatenate(self.labels),
            weights,
        )

    def clear(self) -> None:
        self.fields, self.counts, self.labels, self.weights, self.n = [], [], [], [], 0


class OnlineLearner:
    """Streaming mini-batch Adam over a :class:`~adaf2m2.trainable.TrainableModel`.

    Args:
        model: What to train (a bare model or a framework; an ``nn.Module`` with ``loss``).
        spec: Feature spec of the examples.
        n_tasks: Label columns.
        lr: Adam learning rate.
        batch_size: Examples per Adam step.
        generator: Shuffling order (explicit, never the global torch RNG).
        replay_rows: Recent examples kept for :meth:`warm_start` (0: none).
        rowwise_embeddings: Row-wise Adam on the embedding tables (:mod:`agents.row_adam`:
            rows of ids absent from a batch stay as they are); ``False``: dense Adam.
    """

    def __init__(
        self,
        model: TrainableModel,
        spec: FeatureSpec,
        n_tasks: int,
        lr: float,
        batch_size: int,
        generator: torch.Generator,
        replay_rows: int = 0,
        rowwise_embeddings: bool = False,
    ) -> None:
        self.model = model
        self.spec = spec
        self.batch_size = batch_size
        self.generator = generator
        self.replay_rows = replay_rows
        self.optimizer = build_optimizer(model, lr, rowwise_embeddings=rowwise_embeddings)
        shape = (spec.n_fields, 6, n_tasks)
        self._new = _Rows(*shape)
        self._replay = _Rows(*shape)
        self.n_updates_ = 0
        self.n_examples_ = 0
        self.last_loss_ = float("nan")

    def add(
        self,
        fields: NDArray[np.int64],
        counts: NDArray[np.float32],
        labels: NDArray[np.float32],
        weights: NDArray[np.floating] | None = None,
    ) -> None:
        """Queue examples for the next :meth:`update` (``weights``: their loss weights)."""
        w = None if weights is None else np.asarray(weights, dtype=np.float32)
        self._new.add(fields, counts.astype(np.float32), labels.astype(np.float32), w)

    @property
    def n_pending(self) -> int:
        """Examples waiting for the next update."""
        return self._new.n

    def _steps(
        self,
        fields: NDArray[np.int64],
        counts: NDArray[np.float32],
        labels: NDArray[np.float32],
        weights: Weights = None,
    ) -> float:
        n = fields.shape[0]
        if n == 0:
            return float("nan")
        train = getattr(self.model, "train", None)
        if callable(train):
            train(True)
        order = torch.randperm(n, generator=self.generator).numpy()
        total = 0.0
        for a in range(0, n, self.batch_size):
            idx = order[a : a + self.batch_size]
            batch = FeatureBatch(
                fields=torch.from_numpy(fields[idx]),
                counts=torch.from_numpy(counts[idx]),
                labels=torch.from_numpy(labels[idx]),
                weights=None if weights is None else torch.from_numpy(weights[idx]),
            )
            loss = self.model.loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimizer.step()
            total += float(loss.detach()) * idx.size
        if callable(train):
            train(False)
        self.n_updates_ += 1
        self.n_examples_ += n
        return total / n

    def update(self) -> float:
        """One pass over the examples that arrived since the last update; their mean loss."""
        f, c, y, w = self._new.take()
        self._new.clear()
        if self.replay_rows and f.shape[0]:
            self._replay.add(f, c, y, w)
            if self._replay.n > 2 * self.replay_rows:  # trim rarely, keep the newest rows
                rf, rc, ry, rw = self._replay.take()
                self._replay.clear()
                keep = slice(-self.replay_rows, None)
                self._replay.add(rf[keep], rc[keep], ry[keep], None if rw is None else rw[keep])
        loss = self._steps(f, c, y, w)
        if f.shape[0]:
            self.last_loss_ = loss
        return loss

    def fit(
        self,
        fields: NDArray[np.int64],
        counts: NDArray[np.float32],
        labels: NDArray[np.float32],
        epochs: int,
    ) -> float:
        """``epochs`` shuffled passes over the given examples (pre-training); the last mean loss.

        The pending examples and the warm-start replay are left as they are.
        """
        loss = float("nan")
        for _ in range(epochs):
            loss = self._steps(fields, counts.astype(np.float32), labels.astype(np.float32))
        if epochs and fields.shape[0]:
            self.last_loss_ = loss
        return loss

    def warm_start(self, epochs: int) -> float:
        """Extra passes over the replayed recent examples (end of the pre-period).

        The replay is only for this: it is emptied and no longer kept afterwards, so memory
        and checkpoints stay small during the experiment.
        """
        self.update()
        f, c, y, w = self._replay.take()
        keep = slice(-self.replay_rows, None)
        f, c, y, w = f[keep], c[keep], y[keep], None if w is None else w[keep]
        loss = float("nan")
        for _ in range(epochs):
            loss = self._steps(f, c, y, w)
        self._replay.clear()
        self.replay_rows = 0
        if epochs and f.shape[0]:
            self.last_loss_ = loss
        return loss


__all__ = ["OnlineLearner"]
