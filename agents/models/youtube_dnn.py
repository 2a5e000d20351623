"""YouTube DNN two-tower model (Covington, Adams & Sargin 2016).

The user tower reads the user-owned fields of ``v`` (user id, user meta, user counts and,
if the spec has one, the mean-pooled embedding of the user's recent items); the item tower
reads the item-owned fields. The logit of task ``t`` is ``<u_t, i_t> + b_t``, with both
towers emitting one ``tower_dim`` vector per task. Because the score is a dot product, the
item tower can be precomputed for retrieval over the whole catalogue.

Reference: P. Covington, J. Adams, E. Sargin (2016), "Deep Neural Networks for YouTube
Recommendations", RecSys.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.features import FeatureSpec
from agents.models.base import BaseModel, ModelConfig, mlp
from simulator.errors import ConfigError


@dataclass(frozen=True)
class YouTubeDNNConfig(ModelConfig):
    """Two-tower options.

    Attributes:
        tower_dim: Width of the user and item vectors whose dot product is the logit.
    """

    tower_dim: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tower_dim < 1:
            raise ConfigError(f"tower_dim == {self.tower_dim}, must be >= 1")


class YouTubeDNN(BaseModel):
    """User tower and item tower over their own slices of ``v``, scored by dot product."""

    name = "youtube_dnn"
    user_idx: torch.Tensor
    item_idx: torch.Tensor

    def __init__(
        self,
        spec: FeatureSpec,
        config: YouTubeDNNConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        cfg = config or YouTubeDNNConfig()
        super().__init__(spec, cfg)
        self.tower_dim = cfg.tower_dim
        user_idx, item_idx = self.owned("user"), self.owned("item")
        self.register_buffer("user_idx", torch.tensor(user_idx), persistent=False)
        self.register_buffer("item_idx", torch.tensor(item_idx), persistent=False)
        out = cfg.tower_dim * self.n_tasks
        self.user_tower = mlp(len(user_idx) * self.embed_dim, cfg.hidden_dims, out)
        self.item_tower = mlp(len(item_idx) * self.embed_dim, cfg.hidden_dims, out)
        self.bias = nn.Parameter(torch.zeros(self.n_tasks))
        self.reset_parameters(generator)

    def user_vector(self, v: torch.Tensor) -> torch.Tensor:
        """``(B, n_tasks, tower_dim)`` from the user-owned fields of ``v``."""
        u = self.user_tower(v[:, self.user_idx].flatten(1))
        return u.view(-1, self.n_tasks, self.tower_dim)

    def item_vector(self, v: torch.Tensor) -> torch.Tensor:
        """``(B, n_tasks, tower_dim)`` from the item-owned fields of ``v``."""
        i = self.item_tower(v[:, self.item_idx].flatten(1))
        return i.view(-1, self.n_tasks, self.tower_dim)

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)``: per task the dot product of the towers plus a bias."""
        return (self.user_vector(v) * self.item_vector(v)).sum(-1) + self.bias


__all__ = ["YouTubeDNN", "YouTubeDNNConfig"]
