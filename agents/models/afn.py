"""Adaptive Factorization Network (Cheng, Shen & Huang 2020).

A logarithmic neuron turns a product of powers of the field embeddings into a sum:

    y_j = exp( sum_f w_{jf} log|v_f| ) = prod_f |v_f|^{w_{jf}}    (element-wise over d)

so each of the ``n_log_neurons`` learns a cross feature of arbitrary (fractional) order.
Their outputs, flattened, feed a deep network.

Deviation from the paper: the paper normalises the exponentiated outputs with batch
normalisation; here a layer normalisation does it, so ``head`` treats each example on its
own (a wrapping framework calls ``head`` on masked copies of a batch, which would otherwise
pollute batch statistics), and the exponent is clipped at ``max_log`` to keep ``exp``
finite early in training.

Reference: W. Cheng, Y. Shen, L. Huang (2020), "Adaptive Factorization Network: Learning
Adaptive-Order Feature Interactions", AAAI.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.features import FeatureSpec
from agents.models.base import BaseModel, ModelConfig, mlp
from simulator.errors import ConfigError


@dataclass(frozen=True)
class AFNConfig(ModelConfig):
    """AFN options.

    Attributes:
        n_log_neurons: Number of logarithmic neurons (learned cross features).
        eps: Added to ``|v|`` before the log.
        max_log: Clip of the exponent before ``exp``.
    """

    n_log_neurons: int = 32
    eps: float = 1e-7
    max_log: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_log_neurons < 1:
            raise ConfigError(f"n_log_neurons == {self.n_log_neurons}, must be >= 1")
        if not self.eps > 0:
            raise ConfigError(f"eps == {self.eps}, must be > 0")


class AFN(BaseModel):
    """Logarithmic transformation layer followed by a deep network."""

    name = "afn"

    def __init__(
        self,
        spec: FeatureSpec,
        config: AFNConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        cfg = config or AFNConfig()
        super().__init__(spec, cfg)
        self.cfg = cfg
        self.log_layer = nn.Linear(self.n_fields, cfg.n_log_neurons)
        self.norm = nn.LayerNorm(cfg.n_log_neurons * self.embed_dim)
        self.deep = mlp(cfg.n_log_neurons * self.embed_dim, cfg.hidden_dims, self.n_tasks)
        self.reset_parameters(generator)

    def _reset_head(self, generator: torch.Generator) -> None:
        # Small exponents at the start: each neuron begins near a low-order product.
        nn.init.normal_(self.log_layer.weight, 0.0, 0.1, generator=generator)
        nn.init.ones_(self.norm.weight)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)``."""
        log_v = torch.log(v.abs() + self.cfg.eps).transpose(1, 2)  # (B, d, F)
        z = self.log_layer(log_v).clamp(max=self.cfg.max_log)  # (B, d, n_log)
        cross = torch.exp(z).transpose(1, 2).flatten(1)  # (B, n_log * d)
        return self.deep(self.norm(cross))


__all__ = ["AFN", "AFNConfig"]
