"""Retrieval over the whole catalogue by a dot product of user and item vectors.

Two base models factorise exactly into a user part and an item part, so the top-N items of
a user can be found with one matrix product over the catalogue:

* YouTube DNN: ``logit = <u(user fields), i(item fields)> + b``;
* FM: ``logit = <s_U, s_I> + t_I + t_U`` where ``s_U``/``s_I`` are the sums of the user's
  and the item's field embeddings and ``t`` collects the first-order and within-side
  pairwise terms. ``t_U`` is the same for every item of a user, so ranking by
  ``<[s_U, 1], [s_I, t_I]>`` gives the FM's own order.

Only the first task of the model is used for retrieval.
"""

from __future__ import annotations

import torch

from agents.models.base import BaseModel
from agents.models.fm import FM, fm_interaction
from agents.models.youtube_dnn import YouTubeDNN


def _side_terms(model: FM, v: torch.Tensor, side: list[int]) -> torch.Tensor:
    """First-order plus within-side pairwise FM terms of task 0 for the fields in ``side``."""
    d = model.embed_dim
    w = model.linear.weight[0].view(model.n_fields, d)[side]  # (S, d)
    first = (v[:, side] * w).sum(dim=(1, 2))
    return first + fm_interaction(v[:, side])[:, 0]


def user_vectors(model: BaseModel, v: torch.Tensor) -> torch.Tensor:
    """``(B, D)`` user-side vectors from field embeddings ``v`` (item fields are ignored)."""
    if isinstance(model, YouTubeDNN):
        return model.user_vector(v)[:, 0]
    if isinstance(model, FM):
        s = v[:, model.owned("user")].sum(dim=1)
        return torch.cat([s, torch.ones_like(s[:, :1])], dim=1)
    raise TypeError(
        f"retrieval model {type(model).__name__} does not factorise; use youtube_dnn or fm"
    )


def item_vectors(model: BaseModel, v: torch.Tensor) -> torch.Tensor:
    """``(B, D)`` item-side vectors from field embeddings ``v`` (user fields are ignored)."""
    if isinstance(model, YouTubeDNN):
        return model.item_vector(v)[:, 0]
    if isinstance(model, FM):
        side = model.owned("item")
        s = v[:, side].sum(dim=1)
        return torch.cat([s, _side_terms(model, v, side)[:, None]], dim=1)
    raise TypeError(
        f"retrieval model {type(model).__name__} does not factorise; use youtube_dnn or fm"
    )


__all__ = ["item_vectors", "user_vectors"]
