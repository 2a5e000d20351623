"""Deep & Cross Network V2 (Wang et al. 2021) with full-rank cross layers.

The cross network on ``x0 = flatten(v)`` (width ``D = n_fields * d``):

    x_{l+1} = x0 * (W_l x_l + b_l) + x_l

(``*`` element-wise, ``W_l`` a full ``D x D`` matrix) gives explicit feature crosses of
order ``l + 1``; a deep network runs after it (``stacked``) or beside it (``parallel``),
and a linear layer maps to one logit per task. The paper's own ranking model is a
multi-task DCN-V2.

Reference: R. Wang et al. (2021), "DCN V2: Improved Deep & Cross Network and Practical
Lessons for Web-scale Learning to Rank Systems", WWW.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from agents.features import FeatureSpec
from agents.models.base import BaseModel, ModelConfig, mlp, mlp_out_dim
from simulator.errors import ConfigError


@dataclass(frozen=True)
class DCNV2Config(ModelConfig):
    """DCN-V2 options.

    Attributes:
        n_cross_layers: Number of cross layers.
        structure: ``"stacked"`` (cross then deep) or ``"parallel"`` (concatenated).
    """

    n_cross_layers: int = 3
    structure: Literal["stacked", "parallel"] = "stacked"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_cross_layers < 0:
            raise ConfigError(f"n_cross_layers == {self.n_cross_layers}, must be >= 0")
        if self.structure not in ("stacked", "parallel"):
            raise ConfigError(f"structure == {self.structure!r}, must be 'stacked' or 'parallel'")


class CrossNetwork(nn.Module):
    """Full-rank cross layers ``x_{l+1} = x0 * (W_l x_l + b_l) + x_l``."""

    def __init__(self, width: int, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(n_layers))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``(B, D) -> (B, D)``."""
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class DCNV2(BaseModel):
    """Cross network and deep network, stacked or in parallel."""

    name = "dcnv2"

    def __init__(
        self,
        spec: FeatureSpec,
        config: DCNV2Config | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        cfg = config or DCNV2Config()
        super().__init__(spec, cfg)
        self.structure = cfg.structure
        width = self.n_fields * self.embed_dim
        self.cross = CrossNetwork(width, cfg.n_cross_layers)
        self.deep = mlp(width, cfg.hidden_dims)
        deep_out = mlp_out_dim(width, cfg.hidden_dims)
        final_in = deep_out if cfg.structure == "stacked" else width + deep_out
        self.out = nn.Linear(final_in, self.n_tasks)
        self.reset_parameters(generator)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)``."""
        x0 = v.flatten(1)
        if self.structure == "stacked":
            return self.out(self.deep(self.cross(x0)))
        return self.out(torch.cat([self.cross(x0), self.deep(x0)], dim=1))


__all__ = ["DCNV2", "CrossNetwork", "DCNV2Config"]
