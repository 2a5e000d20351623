"""What every framework object offers a trainer, and the bare-base-model wrapper ("none").

A trainer (``agents/training.py``) needs only ``loss(batch)`` and ``predict(batch)`` plus
the ``nn.Module`` parameter API; :class:`TrainableModel` states that contract. The helpers
here (multi-task BCE, base-model checks, seeding) are shared by every framework in the
package.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adaf2m2.errors import BaseModelError
from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch, WrappableModel

RngLike = int | np.random.Generator | np.random.SeedSequence | None


@runtime_checkable
class TrainableModel(Protocol):
    """An object a trainer can fit and a ranker can serve with.

    ``loss(batch)`` is a scalar tensor to minimise (the batch must carry labels);
    ``predict(batch)`` gives serving logits of shape ``(B, n_tasks)``.
    """

    def loss(self, batch: FeatureBatch) -> torch.Tensor: ...

    def predict(self, batch: FeatureBatch) -> torch.Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...


@dataclass(frozen=True)
class LossParts:
    """The parts of the last training loss, detached to floats for logging.

    Attributes:
        main: ``L_main``, the BCE of the served prediction (``head(w * v)`` or ``head(v)``).
        aux: The auxiliary loss: masked BCE (``L_aux``) or the SSL contrastive loss;
            0.0 where the framework has none.
        total: ``main + weight * aux``, the value that was minimised.
    """

    main: float
    aux: float
    total: float

    @classmethod
    def of(cls, main: torch.Tensor, aux: torch.Tensor, total: torch.Tensor) -> LossParts:
        """The parts of graph-attached loss tensors, as floats."""
        return cls(main=float(main.detach()), aux=float(aux.detach()), total=float(total.detach()))


def torch_generator(rng: RngLike) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from a numpy stream (never the global torch seed).

    Args:
        rng: Seed or numpy generator, normalised with ``np.random.default_rng``.
    """
    seed = int(np.random.default_rng(rng).integers(0, 2**63 - 1))
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    return gen


def normalised_task_weights(task_weights: tuple[float, ...] | None, n_tasks: int) -> torch.Tensor:
    """Task weights as a ``(n_tasks,)`` tensor summing to 1 (equal weights for ``None``)."""
    if task_weights is None:
        return torch.full((n_tasks,), 1.0 / n_tasks)
    if len(task_weights) != n_tasks:
        raise BaseModelError(
            f"AdaF2M2Config.task_weights has {len(task_weights)} entries, must equal the base "
            f"model's n_tasks == {n_tasks}"
        )
    w = torch.tensor(task_weights, dtype=torch.float32)
    return w / w.sum()


def multitask_bce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    task_weights: torch.Tensor,
    row_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy averaged over examples per task, then weighted over tasks.

    ``L = sum_t omega_t * mean_i BCE(sigmoid(logit_it), y_it)`` with ``sum_t omega_t = 1``;
    for one task this is the paper's Eq. (3)/(6) divided by the number of examples. With
    ``row_weights`` it is ``sum_t omega_t * mean_i w_i BCE_it``: the weighted empirical risk
    of a training-data design (divided by ``N``, not by ``sum_i w_i``, so that weights that
    average 1 keep the loss's scale and a weight of 0 removes an example).

    Args:
        logits: ``(N, T)`` logits.
        labels: ``(N, T)`` targets in [0, 1], row-aligned with ``logits``.
        task_weights: ``(T,)`` weights summing to 1.
        row_weights: optional ``(N,)`` per-example weights, row-aligned with ``logits``.
    """
    per_example = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    if row_weights is not None:
        per_example = per_example * row_weights.to(per_example.device, per_example.dtype)[:, None]
    per_task = per_example.mean(dim=0)
    return (per_task * task_weights.to(per_task.device, per_task.dtype)).sum()


def require_labels(batch: FeatureBatch, n_tasks: int) -> torch.Tensor:
    """The batch's labels as float ``(B, n_tasks)``, or a :class:`BaseModelError`."""
    if batch.labels is None:
        raise BaseModelError(
            "batch.labels is None, must be a (B, n_tasks) tensor to compute a loss"
        )
    labels = batch.labels
    if labels.dim() == 1 and n_tasks == 1:
        labels = labels.unsqueeze(1)
    if labels.shape != (len(batch), n_tasks):
        raise BaseModelError(
            f"batch.labels.shape == {tuple(labels.shape)}, must be (B, n_tasks) == "
            f"({len(batch)}, {n_tasks})"
        )
    return labels.float()


def check_base_model(base_model: object) -> WrappableModel:
    """Check that ``base_model`` follows :class:`~adaf2m2.protocol.WrappableModel`."""
    if not isinstance(base_model, nn.Module):
        raise BaseModelError(
            f"base_model is a {type(base_model).__name__}, must be a torch.nn.Module that "
            "implements adaf2m2.protocol.WrappableModel"
        )
    if not isinstance(base_model, WrappableModel):
        required = (
            "n_fields",
            "embed_dim",
            "n_tasks",
            "id_fields",
            "embed",
            "head",
            "embedding_parameters",
            "head_parameters",
        )
        missing = [name for name in required if not hasattr(base_model, name)]
        raise BaseModelError(
            f"base_model {type(base_model).__name__} lacks {missing}, must implement "
            "adaf2m2.protocol.WrappableModel"
        )
    n_fields = base_model.n_fields
    for pos in base_model.id_fields:
        if not 0 <= pos < n_fields:
            raise BaseModelError(
                f"base_model.id_fields contains {pos}, must be positions in [0, {n_fields})"
            )
    return base_model


class PlainModel(nn.Module):
    """The bare base model behind the same ``loss``/``predict`` interface (mode ``"none"``).

    ``loss = multitask_bce(head(embed(batch)), labels)`` updates embeddings and head.

    Args:
        base_model: Any :class:`~adaf2m2.protocol.WrappableModel` ``nn.Module``.
        task_weights: Task weights of the multi-task BCE (``None``: equal).
    """

    def __init__(self, base_model: WrappableModel, task_weights: tuple[float, ...] | None = None):
        super().__init__()
        self.base = check_base_model(base_model)
        assert isinstance(self.base, nn.Module)
        self._task_weights = normalised_task_weights(task_weights, base_model.n_tasks)
        self.last_parts_: LossParts | None = None

    def predict(self, batch: FeatureBatch) -> torch.Tensor:
        """Serving logits ``head(embed(batch))``, shape ``(B, n_tasks)``."""
        return self.base.head(self.base.embed(batch))

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """Same as :meth:`predict`."""
        return self.predict(batch)

    def loss(self, batch: FeatureBatch) -> torch.Tensor:
        """Multi-task BCE of the base model's prediction."""
        labels = require_labels(batch, self.base.n_tasks)
        main = multitask_bce(self.predict(batch), labels, self._task_weights, batch.weights)
        self.last_parts_ = LossParts.of(main, torch.zeros(()), main)
        return main


def log_counts(counts: torch.Tensor) -> torch.Tensor:
    """``log1p`` of the raw interaction counts (negative values clipped to 0)."""
    if counts.dim() != 2 or counts.shape[1] != len(COUNT_COLUMNS):
        raise BaseModelError(
            f"batch.counts.shape == {tuple(counts.shape)}, must be (B, {len(COUNT_COLUMNS)}) "
            f"in the order {COUNT_COLUMNS}"
        )
    return torch.log1p(counts.float().clamp(min=0.0))


def init_linear_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise every ``nn.Linear`` in ``module`` from an explicit generator.

    Same law as PyTorch's default (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights and
    biases), drawn from ``generator`` so that a seed reproduces the module without touching
    torch's global random state. Biases of layers tagged ``_keep_bias`` are left alone.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                bound = 1.0 / float(layer.in_features) ** 0.5
                w = torch.rand(layer.weight.shape, generator=generator) * 2.0 - 1.0
                layer.weight.copy_(w * bound)
                if layer.bias is not None and not getattr(layer, "_keep_bias", False):
                    b = torch.rand(layer.bias.shape, generator=generator) * 2.0 - 1.0
                    layer.bias.copy_(b * bound)
