"""Offline mini-batch training with Adam and early stopping, for base models and frameworks.

The trainer trains anything that follows :class:`adaf2m2.trainable.TrainableModel`: a
``loss(batch)`` to minimise and a ``predict(batch)`` that returns serving logits. A bare
base model becomes one through :class:`adaf2m2.trainable.PlainModel` (binary cross-entropy
on ``head(embed(x))``, the framework ``"none"``); a training framework from :mod:`adaf2m2`
(feature mask, state-aware adapter) is another, so the same loop, optimiser and stopping
rule serve both and comparisons between them are fair.

Randomness: the order of the mini-batches comes from an explicit ``torch.Generator`` that
is seeded from a numpy generator; nothing touches the global torch RNG. With one thread the
same seed gives bit-identical weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from adaf2m2.trainable import TrainableModel
from agents.datasets.samples import Samples, TensorSamples
from agents.row_adam import build_optimizer
from simulator.errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """Training options.

    Attributes:
        lr: Adam learning rate.
        batch_size: Mini-batch size.
        max_epochs: Upper bound on passes over the training samples.
        patience: Epochs without improvement of the validation score before stopping.
        min_delta: Smallest score gain that counts as an improvement.
        weight_decay: Adam's L2 penalty.
        eval_batch_size: Batch size for prediction (no gradients).
        rowwise_embeddings: Row-wise Adam on the embedding tables, as the online agents
            train (:mod:`agents.row_adam`); the default, dense Adam, is what the offline
            study's documented figures were trained with.
    """

    lr: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 10
    patience: int = 2
    min_delta: float = 1e-4
    weight_decay: float = 0.0
    eval_batch_size: int = 8192
    rowwise_embeddings: bool = False

    def __post_init__(self) -> None:
        checks = {
            "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1,
            "max_epochs": self.max_epochs >= 1,
            "patience": self.patience >= 1,
            "min_delta": self.min_delta >= 0,
            "weight_decay": self.weight_decay >= 0,
            "eval_batch_size": self.eval_batch_size >= 1,
        }
        rules = {
            "lr": "> 0",
            "batch_size": ">= 1",
            "max_epochs": ">= 1",
            "patience": ">= 1",
            "min_delta": ">= 0",
            "weight_decay": ">= 0",
            "eval_batch_size": ">= 1",
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(f"{key} == {getattr(self, key)!r}, must be {rules[key]}")


@dataclass(frozen=True)
class FitResult:
    """What happened during :func:`fit`.

    Attributes:
        n_epochs: Epochs run.
        best_epoch: 1-based epoch whose weights were kept.
        train_loss: Mean training loss per epoch.
        valid_score: Validation score (first task; higher is better) per epoch; NaN if
            undefined. The score is ``fit``'s ``valid_score`` (e.g. AUC), by default the
            negative mean log loss.
        seconds: Wall time of training.
        n_samples_seen: Training examples processed (for throughput).
    """

    n_epochs: int
    best_epoch: int
    train_loss: tuple[float, ...]
    valid_score: tuple[float, ...]
    seconds: float
    n_samples_seen: int


def _set_mode(model: TrainableModel, training: bool) -> None:
    train = getattr(model, "train", None)
    if callable(train):
        train(training)


@torch.no_grad()
def predict(
    model: TrainableModel,
    samples: Samples | TensorSamples,
    tasks: tuple[str, ...] = ("finish",),
    batch_size: int = 8192,
) -> np.ndarray:
    """``(n, n_tasks)`` float64 probabilities ``sigmoid(model.predict(x))``, in eval mode.

    ``tasks`` selects the label columns when ``samples`` still has all of them.
    """
    data = samples if isinstance(samples, TensorSamples) else TensorSamples(samples, tasks)
    was_training = bool(getattr(model, "training", False))
    _set_mode(model, False)
    out = [
        torch.sigmoid(model.predict(data.batch(slice(a, a + batch_size))))
        for a in range(0, len(data), batch_size)
    ]
    _set_mode(model, was_training)
    if not out:
        return np.zeros((0, len(tasks)))
    return torch.cat(out).double().numpy()


ScoreFn = Callable[[np.ndarray, np.ndarray], float]
"""``score(labels, probabilities) -> float``, higher is better (e.g. AUC)."""


def negative_log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    """``-mean(y log p + (1 - y) log(1 - p))``, probabilities clipped to [1e-7, 1 - 1e-7]."""
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    return float(np.mean(labels * np.log(p) + (1 - labels) * np.log1p(-p)))


def _valid_score(
    model: TrainableModel, valid: TensorSamples, batch_size: int, score: ScoreFn
) -> float:
    p = predict(model, valid, batch_size=batch_size)[:, 0]
    y = valid.labels[:, 0].double().numpy()
    return score(y, p)


EpochCallback = Callable[[int, float, float], None]


def fit(
    model: TrainableModel,
    train: Samples,
    valid: Samples | None,
    config: TrainConfig | None = None,
    generator: torch.Generator | None = None,
    on_epoch: EpochCallback | None = None,
    tasks: tuple[str, ...] = ("finish",),
    valid_score: ScoreFn | None = None,
) -> FitResult:
    """Train with Adam on shuffled mini-batches; stop early on a validation score.

    After each epoch the first task's ``valid_score`` on ``valid`` is computed; training
    stops after ``patience`` epochs without a gain of ``min_delta`` and the best epoch's
    parameters are restored. Without ``valid`` (or when its score is undefined) all ``max_epochs`` run and
    the last weights are kept.

    Args:
        model: A :class:`TrainableModel` (e.g. ``PlainModel(build_model(...))``).
        train: Training samples.
        valid: Validation samples for early stopping, or ``None``.
        config: Options; defaults to :class:`TrainConfig`.
        generator: Shuffling order; ``None`` means seed 0.
        on_epoch: Called as ``on_epoch(epoch, train_loss, score)`` (progress display).
        valid_score: ``score(labels, probabilities)``, higher is better; the offline
            experiment passes AUC (labels thresholded at 1/2). Default: the negative mean
            log loss (this package does not depend on ``analysis``).
        tasks: The label columns the model predicts, in its output order (the base
            model's ``tasks``).

    Returns:
        A :class:`FitResult`; ``model`` is trained in place.
    """
    cfg = config or TrainConfig()
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    if len(train) == 0:
        raise ConfigError("train has 0 samples, must have at least one")
    data = TensorSamples(train, tasks)
    vdata = TensorSamples(valid, tasks) if valid is not None and len(valid) else None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.rowwise_embeddings)
    best_auc, best_epoch, best_state = -np.inf, 0, None
    losses: list[float] = []
    aucs: list[float] = []
    seen = 0
    start = time.perf_counter()
    for epoch in range(1, cfg.max_epochs + 1):
        _set_mode(model, True)
        perm = torch.randperm(len(data), generator=gen)
        total = 0.0
        for a in range(0, len(data), cfg.batch_size):
            batch = data.batch(perm[a : a + cfg.batch_size])
            loss = model.loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        losses.append(total / len(data))
        scorer = valid_score or negative_log_loss
        auc = (
            _valid_score(model, vdata, cfg.eval_batch_size, scorer)
            if vdata is not None
            else float("nan")
        )
        aucs.append(auc)
        if on_epoch is not None:
            on_epoch(epoch, losses[-1], auc)
        if np.isnan(auc):
            best_epoch = epoch
            continue
        if auc > best_auc + cfg.min_delta:
            best_auc, best_epoch = auc, epoch
            best_state = [p.detach().clone() for p in params]
        elif epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None and best_epoch != len(losses):
        with torch.no_grad():
            for p, saved in zip(params, best_state, strict=True):
                p.copy_(saved)
    _set_mode(model, False)
    return FitResult(
        n_epochs=len(losses),
        best_epoch=best_epoch,
        train_loss=tuple(losses),
        valid_score=tuple(aucs),
        seconds=time.perf_counter() - start,
        n_samples_seen=seen,
    )


__all__ = [
    "EpochCallback",
    "FitResult",
    "ScoreFn",
    "TrainConfig",
    "fit",
    "negative_log_loss",
    "predict",
]
