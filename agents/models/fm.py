"""Factorization machine (Rendle 2010) on field embeddings, and logistic regression.

``y = b + sum_f <w_f, v_f> + sum_{f < g} <v_f, v_g>``. The first-order term is a linear map
of the flattened embeddings, so it lives in ``head`` and the ``embed``/``head`` split holds;
for one task it has exactly the expressive power of one weight per feature value. The
pairwise term uses Rendle's O(k n) identity

    sum_{f < g} <v_f, v_g> = 1/2 sum_k [ (sum_f v_{f,k})^2 - sum_f v_{f,k}^2 ].

Reference: S. Rendle (2010), "Factorization Machines", ICDM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.features import FeatureSpec
from agents.models.base import BaseModel, ModelConfig


def fm_interaction(v: torch.Tensor) -> torch.Tensor:
    """Sum of all pairwise inner products of the fields, ``(B, F, d) -> (B, 1)``, in O(F d)."""
    square_of_sum = v.sum(dim=1).pow(2)
    sum_of_square = v.pow(2).sum(dim=1)
    return 0.5 * (square_of_sum - sum_of_square).sum(dim=1, keepdim=True)


def fm_interaction_explicit(v: torch.Tensor) -> torch.Tensor:
    """The same sum by the explicit double loop over field pairs (for testing)."""
    n_fields = v.shape[1]
    out = v.new_zeros((v.shape[0], 1))
    for f in range(n_fields):
        for g in range(f + 1, n_fields):
            out = out + (v[:, f] * v[:, g]).sum(dim=1, keepdim=True)
    return out


@dataclass(frozen=True)
class FMConfig(ModelConfig):
    """FM options (``hidden_dims`` is unused: FM has no deep network)."""


class FM(BaseModel):
    """Factorization machine: bias + first order + pairwise interactions.

    With several tasks each gets its own bias and first-order weights; the pairwise term is
    shared.

    Example:
        >>> from agents.features import FeatureSpec
        >>> from simulator.types import FieldSpec
        >>> spec = FeatureSpec.from_fields([FieldSpec("user_id", "user", "id", 5)],
        ...                                [FieldSpec("item_id", "item", "id", 7)],
        ...                                n_count_buckets=0)
        >>> model = FM(spec, FMConfig(embed_dim=4), torch.Generator().manual_seed(1))
        >>> model.head(torch.zeros(3, 2, 4)).shape
        torch.Size([3, 1])
    """

    name = "fm"

    def __init__(
        self,
        spec: FeatureSpec,
        config: FMConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(spec, config or FMConfig())
        self.linear = nn.Linear(self.n_fields * self.embed_dim, self.n_tasks)
        self.reset_parameters(generator)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)``."""
        return self.linear(v.flatten(1)) + fm_interaction(v)


@dataclass(frozen=True)
class LogisticConfig(ModelConfig):
    """Logistic regression options (only ``embed_dim``, ``tasks`` and init matter)."""


class Logistic(BaseModel):
    """Logistic regression on the same fields: ``y = b + sum_f <w, v_f>``.

    A baseline, not one of the paper's models: with one task, ``<w_f, v_f(x)>`` is one free
    weight per feature value, i.e. a one-hot logistic regression.
    """

    name = "logistic"

    def __init__(
        self,
        spec: FeatureSpec,
        config: LogisticConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(spec, config or LogisticConfig())
        self.linear = nn.Linear(self.n_fields * self.embed_dim, self.n_tasks)
        self.reset_parameters(generator)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)``."""
        return self.linear(v.flatten(1))


__all__ = [
    "FM",
    "FMConfig",
    "Logistic",
    "LogisticConfig",
    "fm_interaction",
    "fm_interaction_explicit",
]
