"""Adam whose embedding rows move only when their id is in the batch (row-wise Adam).

Dense Adam updates every row of an embedding table at every step: a row whose id was not
in the batch has a zero gradient, but its first moment still holds the momentum of the
last batch that had it, so the row keeps drifting (by ``lr * m / sqrt(v)``, which decays
only as fast as ``beta1``). In a recommender that means idle users' and songs' vectors
change while nothing is learnt about them. Row-wise Adam treats each row of an embedding
table as its own Adam problem: a step touches only the rows with a gradient, and each row
keeps its own step count for the bias correction, so a row seen for the first time after
a thousand steps takes the same first step as any fresh Adam (``lr`` in the direction of
its gradient's sign), not the ``sqrt(1 - beta2) / (1 - beta1)``-times larger one that a
shared step count gives (``torch.optim.SparseAdam``).

"In the batch" is read off the gradient: the backward pass of an embedding lookup writes
exactly zero into every row it did not look up, so a row with an all-zero gradient row
was absent (or looked up and given no gradient at all, which leaves it as it is too).
Other parameters (the deep network, biases, [MASK] embeddings) take the ordinary Adam
step. With ``weight_decay`` the L2 term is added to the gradients of the present rows only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from adaf2m2.trainable import TrainableModel


class RowwiseAdam(torch.optim.Optimizer):
    """Adam with per-row moments and step counts for parameters flagged ``rowwise``.

    Args:
        params: Parameter groups as for :class:`torch.optim.Adam`; a group with
            ``rowwise=True`` holds 2-D tables updated row by row.
        lr: Learning rate.
        betas: Adam's moment decays.
        eps: Adam's denominator guard.
        weight_decay: L2 penalty added to the gradient (present rows only, for tables).

    Example:
        >>> table = nn.Embedding(4, 2)
        >>> opt = RowwiseAdam([{"params": [table.weight], "rowwise": True}], lr=0.1)
        >>> before = table.weight.detach().clone()
        >>> table(torch.tensor([1])).sum().backward()
        >>> opt.step()
        >>> changed = (table.weight.detach() != before).any(dim=1).tolist()
        >>> changed
        [False, True, False, False]
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "rowwise": False,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        """One Adam step: row by row for the ``rowwise`` groups, as Adam for the others."""
        if closure is not None:
            raise ValueError("closure is not supported, must be None")
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if group["rowwise"]:
                    self._row_step(p, group)
                else:
                    self._dense_step(p, group)

    def _dense_step(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        grad = p.grad
        assert grad is not None
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bc1 = 1 - beta1 ** state["step"]
        bc2 = 1 - beta2 ** state["step"]
        # torch.optim.Adam's own arithmetic, so these groups step exactly as it does.
        denom = (v.sqrt() / math.sqrt(bc2)).add_(group["eps"])
        p.addcdiv_(m, denom, value=-group["lr"] / bc1)

    def _row_step(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        grad = p.grad
        assert grad is not None
        if p.dim() != 2:
            raise ValueError(f"a rowwise parameter has shape {tuple(p.shape)}, must be 2-D")
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros(p.shape[0], dtype=torch.int64)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        rows = (grad != 0).any(dim=1).nonzero().squeeze(1)
        if rows.numel() == 0:
            return
        g = grad[rows]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p[rows]
        step = state["step"][rows] + 1
        state["step"][rows] = step
        m = state["exp_avg"][rows].lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"][rows].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        state["exp_avg"][rows] = m
        state["exp_avg_sq"][rows] = v
        # Adam's arithmetic row by row: the bias corrections in double precision, as
        # torch.optim.Adam computes them from its Python step count, then in p's dtype.
        t = step.double()
        step_size = (group["lr"] / (1 - beta1**t)).to(p.dtype).unsqueeze(1)
        bc2_sqrt = ((1 - beta2**t) ** 0.5).to(p.dtype).unsqueeze(1)
        denom = (v.sqrt() / bc2_sqrt).add_(group["eps"])
        p[rows] = p[rows] + (-step_size) * m / denom


def embedding_tables(model: TrainableModel | nn.Module) -> list[nn.Parameter]:
    """The embedding tables of a base model or of a trainable wrapping one (``.base``)."""
    owner = getattr(model, "base", model)
    tables = getattr(owner, "embedding_parameters", None)
    return list(tables()) if callable(tables) else []


def build_optimizer(
    model: TrainableModel | nn.Module,
    lr: float,
    weight_decay: float = 0.0,
    rowwise_embeddings: bool = True,
) -> torch.optim.Optimizer:
    """The optimiser of a trainable: row-wise Adam on its embedding tables, Adam elsewhere.

    ``rowwise_embeddings=False`` gives ``torch.optim.Adam`` on everything (the earlier
    behaviour, kept for comparison and for the offline study's documented figures).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not rowwise_embeddings:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    table_ids = {id(p) for p in embedding_tables(model) if p.requires_grad}
    tables = [p for p in params if id(p) in table_ids]
    others = [p for p in params if id(p) not in table_ids]
    groups: list[dict[str, Any]] = []
    if tables:
        groups.append({"params": tables, "rowwise": True})
    if others:
        groups.append({"params": others, "rowwise": False})
    return RowwiseAdam(groups, lr=lr, weight_decay=weight_decay)


__all__ = ["RowwiseAdam", "build_optimizer", "embedding_tables"]
