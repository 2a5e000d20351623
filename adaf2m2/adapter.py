"""The state-aware adapter of AdaF²M² (section 3.3 of the paper).

It maps empirical state signals of the user and the item to one weight per field,

    [w_1, ..., w_n] = sigmoid(h([r_ID, r_norm, r_count])),

where ``r_ID`` concatenates the ID embeddings (user, item, artist), ``r_norm`` holds their
L2 norms through ``log(1 + .)``, ``sqrt`` and ``square`` (the norm of an ID embedding tells
how well it has been learned: old users' are longer than new users'), and ``r_count`` holds
the interaction counts of :data:`adaf2m2.protocol.COUNT_COLUMNS` (impressions, likes,
comments of user and item) through ``log1p``. The served prediction is
``y_adapt = head(w * v)``.
"""

from __future__ import annotations

import torch
from torch import nn

from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.protocol import COUNT_COLUMNS
from adaf2m2.trainable import init_linear_, log_counts, torch_generator


class StateAwareAdapter(nn.Module):
    """MLP ``h`` with a sigmoid output: state signals -> one weight per field.

    Args:
        n_fields: Number of fields ``F`` (one output weight each).
        embed_dim: Embedding size ``d``.
        n_id_fields: Number of ID fields fed in as ``r_ID`` (user, item, artist: 3).
        hidden: Hidden layer sizes of ``h`` (ReLU after each).
        init_bias: Initial bias of the output layer (weights start at ``sigmoid(init_bias)``).
        generator: Stream of the initialisation (a fresh seed-0 stream when ``None``).
        count_columns: Which columns of ``FeatureBatch.counts`` (positions in
            :data:`~adaf2m2.protocol.COUNT_COLUMNS`) form ``r_count``; ``None``: all six. A
            tower's adapter reads its own side's counts only (:mod:`adaf2m2.tower_adapter`).

    Shapes:
        ``forward(v_id (B, n_id, d), counts (B, len(COUNT_COLUMNS))) -> w (B, F)`` in (0, 1):
        ``counts`` is always the batch's six columns, of which it reads ``count_columns``.

    Example:
        >>> a = StateAwareAdapter(n_fields=5, embed_dim=4, n_id_fields=2, hidden=(8,))
        >>> a(torch.ones(3, 2, 4), torch.zeros(3, 6)).shape
        torch.Size([3, 5])
    """

    def __init__(
        self,
        n_fields: int,
        embed_dim: int,
        n_id_fields: int,
        hidden: tuple[int, ...] = (64, 32),
        init_bias: float = 2.0,
        generator: torch.Generator | None = None,
        count_columns: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if n_fields < 1 or embed_dim < 1 or n_id_fields < 0:
            raise FrameworkConfigError(
                f"StateAwareAdapter(n_fields={n_fields}, embed_dim={embed_dim}, "
                f"n_id_fields={n_id_fields}), need n_fields >= 1, embed_dim >= 1, n_id_fields >= 0"
            )
        columns = tuple(range(len(COUNT_COLUMNS))) if count_columns is None else count_columns
        if len(set(columns)) != len(columns) or any(
            not 0 <= c < len(COUNT_COLUMNS) for c in columns
        ):
            raise FrameworkConfigError(
                f"StateAwareAdapter(count_columns={count_columns}), must be distinct positions "
                f"in [0, {len(COUNT_COLUMNS)}) of {COUNT_COLUMNS}"
            )
        if n_id_fields == 0 and not columns:
            raise FrameworkConfigError(
                "StateAwareAdapter(n_id_fields=0, count_columns=()), needs at least one state "
                "signal (an ID field or a count column)"
            )
        self.n_fields = n_fields
        self.embed_dim = embed_dim
        self.n_id_fields = n_id_fields
        self.count_columns = columns
        self._all_counts = count_columns is None
        self.in_dim = n_id_fields * embed_dim + 3 * n_id_fields + len(columns)
        layers: list[nn.Module] = []
        width = self.in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        out = nn.Linear(width, n_fields)
        out._keep_bias = True  # type: ignore[assignment]
        nn.init.constant_(out.bias, init_bias)
        layers.append(out)
        self.mlp = nn.Sequential(*layers)
        init_linear_(self.mlp, generator if generator is not None else torch_generator(0))

    def state_inputs(self, v_id: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """The concatenated state signals ``[r_ID, r_norm, r_count]``, shape ``(B, in_dim)``."""
        if v_id.dim() != 3 or v_id.shape[1:] != (self.n_id_fields, self.embed_dim):
            raise BaseModelError(
                f"v_id.shape == {tuple(v_id.shape)}, must be (B, {self.n_id_fields}, "
                f"{self.embed_dim})"
            )
        r_id = v_id.flatten(start_dim=1)
        norm = v_id.norm(dim=-1)
        # sqrt's derivative is infinite at 0; the epsilon keeps the adapter's inputs'
        # gradients finite should a caller ever differentiate through them.
        r_norm = torch.cat([torch.log1p(norm), torch.sqrt(norm + 1e-12), norm.square()], dim=1)
        r_count = log_counts(counts)
        if not self._all_counts:
            r_count = r_count[:, list(self.count_columns)]
        r_count = r_count.to(v_id.dtype)
        return torch.cat([r_id, r_norm, r_count], dim=1)

    def forward(self, v_id: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Adaptive weights ``w = sigmoid(h(state))`` of shape ``(B, F)``."""
        return torch.sigmoid(self.mlp(self.state_inputs(v_id, counts)))
