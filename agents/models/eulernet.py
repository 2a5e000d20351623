"""EulerNet (Tian et al. 2023): feature interactions by Euler's formula.

Each field embedding is read as a phase: ``r_f + i p_f = mu cos(e_f) + i mu sin(e_f)``.
An Euler interaction layer maps ``n_in`` complex fields to ``n_out``:

* explicit part: polar form ``lambda_f = |z_f|``, ``theta_f = arg z_f``; a product of powers
  ``prod_f z_f^{a_jf}`` becomes linear in the polar form,
  ``log lambda_j = sum_f a_jf log lambda_f + b``, ``theta_j = sum_f a_jf theta_f + b'``,
  so the orders ``a_jf`` are learned (exponent learning); back to the complex plane by
  ``lambda_j e^{i theta_j}`` (Euler's formula);
* implicit (linear) part: a linear map of the flattened real and imaginary parts, ReLU;
* the sum of both, layer-normalised.

The last layer's real and imaginary parts go through one shared linear regression and add
up to the logit (one output per task).

Deviation from the reference code: no dropout (forward passes draw no random numbers, see
``agents.models.base``).

Reference: Z. Tian, T. Bai, W. X. Zhao, J.-R. Wen, Z. Cao (2023), "EulerNet: Adaptive
Feature Interaction Learning via Euler's Formula for CTR Prediction", SIGIR.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from agents.features import FeatureSpec
from agents.models.base import BaseModel, ModelConfig
from simulator.errors import ConfigError


@dataclass(frozen=True)
class EulerNetConfig(ModelConfig):
    """EulerNet options (``hidden_dims`` is unused).

    Attributes:
        order_list: Output fields of each Euler interaction layer.
        apply_norm: Layer-normalise each layer's real and imaginary outputs.
    """

    order_list: tuple[int, ...] = (16,)
    apply_norm: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.order_list or any(n < 1 for n in self.order_list):
            raise ConfigError(f"order_list == {self.order_list}, must be non-empty, each >= 1")


class EulerInteractionLayer(nn.Module):
    """Complex fields ``(B, n_in, d) x 2 -> (B, n_out, d) x 2``."""

    def __init__(self, n_in: int, n_out: int, embed_dim: int, apply_norm: bool) -> None:
        super().__init__()
        self.n_in, self.n_out, self.embed_dim = n_in, n_out, embed_dim
        self.orders = nn.Parameter(torch.empty(n_in, n_out))
        self.bias_lam = nn.Parameter(torch.empty(1, embed_dim, n_out))
        self.bias_theta = nn.Parameter(torch.empty(1, embed_dim, n_out))
        self.implicit = nn.Linear(n_in * embed_dim, n_out * embed_dim)
        self.norm_r: nn.Module = nn.LayerNorm(embed_dim) if apply_norm else nn.Identity()
        self.norm_p: nn.Module = nn.LayerNorm(embed_dim) if apply_norm else nn.Identity()

    def reset(self, generator: torch.Generator) -> None:
        """The reference initialisation: identity orders if square, else soft one-hot."""
        with torch.no_grad():
            if self.n_in == self.n_out:
                self.orders.copy_(torch.eye(self.n_in))
            else:
                raw = torch.randn(self.n_in, self.n_out, generator=generator) / 0.01
                self.orders.copy_(torch.softmax(raw, dim=0))
            nn.init.normal_(self.bias_lam, 0.0, 0.01, generator=generator)
            nn.init.normal_(self.bias_theta, 0.0, 0.01, generator=generator)
            nn.init.normal_(self.implicit.weight, 0.0, 0.1, generator=generator)
            nn.init.zeros_(self.implicit.bias)

    def forward(self, r: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and imaginary parts in and out."""
        b = r.shape[0]
        log_lam = 0.5 * torch.log(r.pow(2) + p.pow(2) + 1e-8)  # log modulus, (B, n_in, d)
        theta = torch.atan2(p, r)
        # Exponent learning: orders mix the log-moduli and the phases linearly.
        log_lam = log_lam.transpose(1, 2) @ self.orders + self.bias_lam  # (B, d, n_out)
        theta = theta.transpose(1, 2) @ self.orders + self.bias_theta
        lam = torch.exp(log_lam).transpose(1, 2)  # (B, n_out, d)
        theta = theta.transpose(1, 2)
        r_im = torch.relu(self.implicit(r.reshape(b, -1))).view(b, self.n_out, self.embed_dim)
        p_im = torch.relu(self.implicit(p.reshape(b, -1))).view(b, self.n_out, self.embed_dim)
        out_r = self.norm_r(r_im + lam * torch.cos(theta))
        out_p = self.norm_p(p_im + lam * torch.sin(theta))
        return out_r, out_p


class EulerNet(BaseModel):
    """Stacked Euler interaction layers and a linear read-out of both parts."""

    name = "eulernet"

    def __init__(
        self,
        spec: FeatureSpec,
        config: EulerNetConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        cfg = config or EulerNetConfig()
        super().__init__(spec, cfg)
        sizes = (self.n_fields, *cfg.order_list)
        self.layers = nn.ModuleList(
            EulerInteractionLayer(a, b, self.embed_dim, cfg.apply_norm)
            for a, b in itertools.pairwise(sizes)
        )
        self.mu = nn.Parameter(torch.ones(1))
        self.reg = nn.Linear(sizes[-1] * self.embed_dim, self.n_tasks)
        self.reset_parameters(generator)

    def _reset_head(self, generator: torch.Generator) -> None:
        nn.init.ones_(self.mu)
        for layer in self.layers:
            layer.reset(generator)  # type: ignore[operator]
            for norm in (layer.norm_r, layer.norm_p):
                if isinstance(norm, nn.LayerNorm):
                    nn.init.ones_(norm.weight)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)``."""
        r, p = self.mu * torch.cos(v), self.mu * torch.sin(v)
        for layer in self.layers:
            r, p = layer(r, p)
        return self.reg(r.flatten(1)) + self.reg(p.flatten(1))


__all__ = ["EulerInteractionLayer", "EulerNet", "EulerNetConfig"]
