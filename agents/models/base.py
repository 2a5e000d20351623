"""The shared embedding layer of every base model and the ``embed``/``head`` split.

A base model is ``forward(batch) = head(embed(batch))`` (DESIGN section 4): ``embed`` looks
up one ``embed_dim`` vector per field (plus, when the spec has a history, the mean of the
user's recent items' ID embeddings as one more field) and ``head`` is the paper's ``g``,
the interaction layer and deep network. Training frameworks in :mod:`adaf2m2` wrap a model
through this split, so subclasses implement ``head`` only.

Initialisation draws from an explicit ``torch.Generator`` (never the global torch RNG), and
no layer draws random numbers in the forward pass (no dropout), so a model's outputs are a
function of its seed and its training data only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from adaf2m2.protocol import FeatureBatch
from agents.features import TASKS, FeatureSpec
from simulator.errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    """Options every base model shares.

    Attributes:
        embed_dim: Size ``d`` of each field embedding.
        tasks: Labels the head predicts, a subset of ``agents.features.TASKS``; one logit
            each. ``("finish",)`` is the single-task default used offline.
        hidden_dims: Widths of the deep network's hidden layers (where a model has one).
        embed_init_std: Standard deviation of the normal initialisation of embeddings.
    """

    embed_dim: int = 16
    tasks: tuple[str, ...] = ("finish",)
    hidden_dims: tuple[int, ...] = (64, 32)
    embed_init_std: float = 0.01

    def __post_init__(self) -> None:
        if self.embed_dim < 1:
            raise ConfigError(f"embed_dim == {self.embed_dim}, must be >= 1")
        if not self.tasks:
            raise ConfigError("tasks == (), must name at least one task")
        for t in self.tasks:
            if t not in TASKS:
                raise ConfigError(f"tasks contains {t!r}, must be one of {TASKS}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"tasks == {self.tasks}, must not repeat")
        for h in self.hidden_dims:
            if h < 1:
                raise ConfigError(f"hidden_dims == {self.hidden_dims}, every width must be >= 1")
        if not self.embed_init_std > 0:
            raise ConfigError(f"embed_init_std == {self.embed_init_std}, must be > 0")


def mlp(in_dim: int, hidden_dims: Sequence[int], out_dim: int | None = None) -> nn.Sequential:
    """Linear-ReLU stack; a final linear layer to ``out_dim`` if given (no activation)."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden_dims:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    if out_dim is not None:
        layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def mlp_out_dim(in_dim: int, hidden_dims: Sequence[int]) -> int:
    """Output width of :func:`mlp` without ``out_dim``."""
    return hidden_dims[-1] if hidden_dims else in_dim


class BaseModel(nn.Module):
    """Per-field embedding tables plus an abstract ``head``.

    All fields share one ``nn.Embedding`` with per-field row offsets (one lookup per
    batch); field ``f`` owns ``capacity_f + 1`` rows, the last one its OOV row.

    Args:
        spec: The feature spec (field order and capacities).
        config: Shared options; subclasses take their own config subclass.
        generator: Source of the initial weights; ``None`` uses a fresh generator with
            seed 0 (deterministic, never the global RNG).

    Shapes:
        ``embed(batch)``: ``(B, n_fields, embed_dim)``; ``head(v)``: ``(B, n_tasks)``.
    """

    name = "base"
    capacities: torch.Tensor
    offsets: torch.Tensor

    def __init__(self, spec: FeatureSpec, config: ModelConfig) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        self.embed_dim = config.embed_dim
        self.n_tasks = len(config.tasks)
        self.tasks = config.tasks
        self.has_history = spec.history_len > 0
        self.n_fields = spec.n_fields + (1 if self.has_history else 0)
        self.id_fields: tuple[int, ...] = spec.id_fields
        owners = [f.owner for f in spec.fields] + (["user"] if self.has_history else [])
        self.owners: tuple[str, ...] = tuple(owners)
        caps = torch.tensor(spec.capacities, dtype=torch.int64)
        rows = caps + 1
        offsets = torch.cumsum(rows, 0) - rows
        self.register_buffer("capacities", caps, persistent=False)
        self.register_buffer("offsets", offsets, persistent=False)
        self.embedding = nn.Embedding(int(rows.sum()), config.embed_dim)
        self._item_field = spec.index("item_id")

    # -- parameters ---------------------------------------------------------------------
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw every parameter from ``generator``.

        Embeddings ``N(0, embed_init_std^2)``; matrices Xavier-uniform; vectors zero.
        Subclasses with special parameters override :meth:`_reset_head` and call it here.
        """
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        with torch.no_grad():
            nn.init.normal_(self.embedding.weight, 0.0, self.config.embed_init_std, generator=g)
            for p in self.head_parameters():
                if p.dim() >= 2:
                    nn.init.xavier_uniform_(p, generator=g)
                else:
                    p.zero_()
            self._reset_head(g)

    def _reset_head(self, generator: torch.Generator) -> None:
        """Hook for model-specific initialisation after the generic one."""

    def embedding_parameters(self) -> Iterator[nn.Parameter]:
        """The embedding tables (what the paper calls the embedding layer)."""
        yield cast(nn.Parameter, self.embedding.weight)

    def head_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter of ``head`` (``g``): all but the embedding tables."""
        for name, p in self.named_parameters():
            if not name.startswith("embedding."):
                yield p

    # -- forward ------------------------------------------------------------------------
    def _rows(self, codes: torch.Tensor, fields: int | slice) -> torch.Tensor:
        cap = self.capacities[fields]
        oov = (codes < 0) | (codes >= cap)
        return torch.where(oov, cap, codes) + self.offsets[fields]

    def embed(self, batch: FeatureBatch) -> torch.Tensor:
        """Field embeddings ``v`` of shape ``(B, n_fields, embed_dim)``."""
        x = batch.fields
        if x.dim() != 2 or x.shape[1] != self.spec.n_fields:
            raise ConfigError(
                f"batch.fields has shape {tuple(x.shape)}, must be (B, {self.spec.n_fields})"
            )
        v = self.embedding(self._rows(x, slice(None)))
        if not self.has_history:
            return v
        hist = batch.history
        if hist is None:
            pooled = v.new_zeros((v.shape[0], 1, self.embed_dim))
        else:
            valid = (hist >= 0).unsqueeze(-1).to(v.dtype)
            rows = self._rows(hist.clamp(min=0), self._item_field)
            h = self.embedding(rows) * valid
            # Mean over the real (non-padding) entries; an empty history embeds as zeros.
            pooled = (h.sum(1) / valid.sum(1).clamp(min=1.0)).unsqueeze(1)
        return torch.cat([v, pooled], dim=1)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)`` from field embeddings ``(B, n_fields, embed_dim)``."""
        raise NotImplementedError

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """``head(embed(batch))``: logits ``(B, n_tasks)``."""
        return self.head(self.embed(batch))

    def owned(self, owner: str) -> list[int]:
        """Positions in ``v`` of the fields owned by ``"user"`` or ``"item"``."""
        return [i for i, o in enumerate(self.owners) if o == owner]


__all__ = ["BaseModel", "ModelConfig", "mlp", "mlp_out_dim"]
