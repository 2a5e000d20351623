"""The state-aware adapter split by tower, for models that must stay factorised (retrieval).

A retrieval model scores the whole catalogue by one matrix product, ``<u(user), i(item)>``,
because the item vectors are computed once and cached. The ranking adapter of
:mod:`adaf2m2.adapter` would break that: each of its weights is a function of the user's
*and* the item's state (all ID embeddings, all six counts), so a user field's weight would
change with the item being scored and the user vector with it. The tower-wise adapter keeps
the product: it is one :class:`~adaf2m2.adapter.StateAwareAdapter` per side,

    w_user = sigmoid(h_user([r_ID, r_norm, r_count] of the user))   -> the user's fields
    w_item = sigmoid(h_item([r_ID, r_norm, r_count] of the item))   -> the item's fields

where a side's ``r_ID`` holds its own ID embeddings only (user: ``user_id``; item:
``item_id`` and ``artist_id``), ``r_norm`` their norms, and ``r_count`` its own three counts
of :data:`~adaf2m2.protocol.COUNT_COLUMNS` (``user_*`` or ``item_*``). Serving computes
``u(w_user * v)`` and ``i(w_item * v)``: the user vector is a function of the user alone and
the item vector of the item alone, so the item table stays precomputable.

A field that neither side owns gets the weight 1 (no side's state may scale it without
tying the two sides together). The base models of ``agents.models`` have no such field:
every field, the user's history pool included, belongs to the user or to the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from adaf2m2.adapter import StateAwareAdapter
from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.protocol import COUNT_COLUMNS


@dataclass(frozen=True)
class Tower:
    """Which part of ``v`` and of the counts one side of a factorised model owns.

    Attributes:
        name: ``"user"`` or ``"item"`` (used in messages and as the count prefix).
        fields: Positions in ``v`` of the side's fields: the weights this side gives.
        id_fields: Positions in ``v`` of its ID embeddings (its ``r_ID``); a subset of
            ``fields``.
        count_columns: Columns of ``FeatureBatch.counts`` that are its state (its
            ``r_count``).

    Example:
        >>> Tower.of("item", ("user", "item", "item", "user"), id_fields=(0, 1, 2))
        Tower(name='item', fields=(1, 2), id_fields=(1, 2), count_columns=(3, 4, 5))
    """

    name: str
    fields: tuple[int, ...]
    id_fields: tuple[int, ...]
    count_columns: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.fields:
            raise BaseModelError(f"Tower {self.name!r} owns no field, must own at least one")
        if len(set(self.fields)) != len(self.fields):
            raise BaseModelError(f"Tower {self.name!r} fields {self.fields} repeat")
        outside = sorted(set(self.id_fields) - set(self.fields))
        if outside:
            # The factorisation rests on this: a side's weights may read its own IDs only.
            raise BaseModelError(
                f"Tower {self.name!r} id_fields {self.id_fields} include {outside}, must be "
                f"among its own fields {self.fields}"
            )

    @classmethod
    def of(cls, name: str, owners: Sequence[str], id_fields: Sequence[int]) -> Tower:
        """The side ``name`` of a model whose field ``f`` belongs to ``owners[f]``.

        Its count columns are those of :data:`COUNT_COLUMNS` that start with ``name + "_"``.
        """
        fields = tuple(f for f, owner in enumerate(owners) if owner == name)
        ids = tuple(f for f in id_fields if f in fields)
        counts = tuple(c for c, col in enumerate(COUNT_COLUMNS) if col.startswith(f"{name}_"))
        return cls(name, fields, ids, counts)


class TowerAdapter(nn.Module):
    """One state-aware adapter per tower; ``w`` of a side depends on that side's state only.

    Args:
        n_fields: Number of fields ``F`` of ``v``.
        embed_dim: Embedding size ``d``.
        user: The user side (:meth:`Tower.of`).
        item: The item side; its fields must not overlap the user's.
        hidden: Hidden layer sizes of each side's MLP ``h``.
        init_bias: Initial bias of each output layer (weights start at ``sigmoid(init_bias)``).
        generator: Stream of the initialisation (the user side's draws come first).

    Shapes:
        ``forward(v (B, F, d), counts (B, len(COUNT_COLUMNS))) -> w (B, F)``: the user's
        fields get the user adapter's weights, the item's the item adapter's, any other
        field 1.

    Example:
        >>> owners = ("user", "item", "item", "user")
        >>> a = TowerAdapter(4, 2, Tower.of("user", owners, (0, 1, 2)),
        ...                  Tower.of("item", owners, (0, 1, 2)), hidden=(8,))
        >>> a(torch.ones(3, 4, 2), torch.zeros(3, 6)).shape
        torch.Size([3, 4])
    """

    order: torch.Tensor

    def __init__(
        self,
        n_fields: int,
        embed_dim: int,
        user: Tower,
        item: Tower,
        hidden: tuple[int, ...] = (64, 32),
        init_bias: float = 2.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for side in (user, item):
            if any(not 0 <= f < n_fields for f in side.fields):
                raise BaseModelError(
                    f"Tower {side.name!r} fields {side.fields}, must be positions in "
                    f"[0, {n_fields})"
                )
        shared = sorted(set(user.fields) & set(item.fields))
        if shared:
            raise FrameworkConfigError(
                f"Tower fields {shared} are owned by both sides, must belong to one: a field "
                "weighted by both states would tie the user vector to the item"
            )
        self.n_fields = n_fields
        self.embed_dim = embed_dim
        self.user = user
        self.item = item
        self.neither = tuple(f for f in range(n_fields) if f not in (*user.fields, *item.fields))

        def side_adapter(side: Tower) -> StateAwareAdapter:
            return StateAwareAdapter(
                len(side.fields),
                embed_dim,
                n_id_fields=len(side.id_fields),
                hidden=hidden,
                init_bias=init_bias,
                generator=generator,
                count_columns=side.count_columns,
            )

        self.user_adapter = side_adapter(user)
        self.item_adapter = side_adapter(item)
        # Position of each field in [user weights, item weights, ones]: one gather puts the
        # concatenated weights back in field order.
        laid_out = [*user.fields, *item.fields, *self.neither]
        order = torch.empty(n_fields, dtype=torch.int64)
        order[torch.tensor(laid_out, dtype=torch.int64)] = torch.arange(n_fields)
        self.register_buffer("order", order, persistent=False)

    def side_weights(self, side: str, v: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """One side's weights ``(B, len(side.fields))``, from that side's state only."""
        if side == "user":
            tower, adapter = self.user, self.user_adapter
        elif side == "item":
            tower, adapter = self.item, self.item_adapter
        else:
            raise FrameworkConfigError(f"side == {side!r}, must be 'user' or 'item'")
        return adapter(v[:, list(tower.id_fields), :], counts)

    def forward(self, v: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Weights ``w`` of shape ``(B, F)``; pass ``v`` detached (state signals are read-only)."""
        if v.dim() != 3 or v.shape[1:] != (self.n_fields, self.embed_dim):
            raise BaseModelError(
                f"v.shape == {tuple(v.shape)}, must be (B, {self.n_fields}, {self.embed_dim})"
            )
        w_user = self.side_weights("user", v, counts)
        w_item = self.side_weights("item", v, counts)
        ones = w_user.new_ones((v.shape[0], len(self.neither)))
        return torch.cat([w_user, w_item, ones], dim=1)[:, self.order]


__all__ = ["Tower", "TowerAdapter"]
