"""Read the adapter's learned weights out by user state, for the report's figure.

The state-aware adapter should give different field weights to new and old users and to
light and heavy users. :func:`adapter_weights_by_state` averages ``w`` per field over the
examples of each state group and returns a plain numpy record a report can plot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from adaf2m2.errors import FrameworkError
from adaf2m2.protocol import FeatureBatch

N_DECILES = 10


class HasAdapterWeights(Protocol):
    """Anything with ``adapter_weights(batch) -> (B, n_fields)``, e.g. :class:`AdaF2M2`."""

    def adapter_weights(self, batch: FeatureBatch) -> torch.Tensor: ...


@dataclass(frozen=True)
class AdapterWeightsByState:
    """Mean adapter weight per field, per user-state group.

    Attributes:
        field_names: Names of the ``F`` fields (columns of :attr:`mean_weights`).
        states: Group labels: ``"all"``, ``"new"``, ``"old"``, then ``"activity_d1"`` (the
            least active tenth) to ``"activity_d10"``.
        mean_weights: ``(n_states, F)`` mean of ``w`` over the group's examples (NaN where
            a group is empty).
        n_examples: ``(n_states,)`` number of examples per group.
        decile_edges: The 11 activity quantiles that define the deciles.
    """

    field_names: tuple[str, ...]
    states: tuple[str, ...]
    mean_weights: NDArray[np.float64]
    n_examples: NDArray[np.int64]
    decile_edges: NDArray[np.float64]

    def to_dicts(self) -> list[dict[str, Any]]:
        """One dict per (state, field): ``state``, ``field``, ``mean_weight``, ``n_examples``."""
        return [
            {
                "state": state,
                "field": name,
                "mean_weight": float(self.mean_weights[i, f]),
                "n_examples": int(self.n_examples[i]),
            }
            for i, state in enumerate(self.states)
            for f, name in enumerate(self.field_names)
        ]

    def to_pandas(self) -> Any:
        """A wide ``pandas.DataFrame``: one row per state, one column per field, plus ``n``.

        pandas is imported here only, so adaf2m2 itself depends on torch and numpy alone.
        """
        import pandas as pd

        frame = pd.DataFrame(self.mean_weights, index=list(self.states), columns=self.field_names)
        frame.insert(0, "n_examples", self.n_examples)
        frame.index.name = "state"
        return frame

    def __str__(self) -> str:
        width = max(len(n) for n in self.field_names) + 1
        head = f"{'state':<13}{'n':>9} " + " ".join(f"{n:>{width}}" for n in self.field_names)
        rows = [head]
        for i, state in enumerate(self.states):
            cells = " ".join(f"{x:>{width}.3f}" for x in self.mean_weights[i])
            rows.append(f"{state:<13}{int(self.n_examples[i]):>9} {cells}")
        return "\n".join(rows)


def activity_deciles(
    user_activity: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Decile index 0..9 of each value (by its empirical quantiles) and the 11 edges.

    Values equal to an inner edge go to the upper decile; ties across an edge keep heavy
    users together, so deciles can be unequal in size when activity has many ties.
    """
    edges = np.quantile(user_activity, np.linspace(0.0, 1.0, N_DECILES + 1))
    idx = np.searchsorted(edges[1:-1], user_activity, side="right")
    return idx.astype(np.int64), edges.astype(np.float64)


def adapter_weights_by_state(
    framework: HasAdapterWeights,
    batches: Iterable[FeatureBatch],
    user_is_new: ArrayLike,
    user_activity: ArrayLike,
    field_names: Sequence[str] | None = None,
) -> AdapterWeightsByState:
    """Mean adapter weight per field for new vs old users and per activity decile.

    Args:
        framework: A framework with an adapter (``AdaF2M2`` in mode ``adaf2m2`` or
            ``adapter_only``).
        batches: Batches to evaluate; their examples, concatenated in order, are the rows
            that ``user_is_new`` and ``user_activity`` describe.
        user_is_new: ``(N,)`` bool, whether each example's user is new.
        user_activity: ``(N,)`` activity of each example's user (e.g. past impressions);
            deciles are taken over these N values, so heavy users weigh by their examples
            unless one row per user is passed.
        field_names: Names of the fields (default ``field_0``, ``field_1``, ...).

    Returns:
        :class:`AdapterWeightsByState`.

    Raises:
        FrameworkError: Lengths disagree, or there are no examples.
    """
    chunks = [framework.adapter_weights(b).detach().cpu().double().numpy() for b in batches]
    if not chunks:
        raise FrameworkError("batches is empty, must hold at least one batch")
    weights = np.concatenate(chunks, axis=0)
    n, n_fields = weights.shape
    is_new = np.asarray(user_is_new, dtype=bool).reshape(-1)
    activity = np.asarray(user_activity, dtype=np.float64).reshape(-1)
    for name, arr in (("user_is_new", is_new), ("user_activity", activity)):
        if arr.shape[0] != n:
            raise FrameworkError(
                f"len({name}) == {arr.shape[0]}, must equal the number of examples in "
                f"batches == {n}"
            )
    if not np.all(np.isfinite(activity)):
        raise FrameworkError("user_activity has non-finite values, must be finite")
    names = (
        tuple(field_names)
        if field_names is not None
        else tuple(f"field_{f}" for f in range(n_fields))
    )
    if len(names) != n_fields:
        raise FrameworkError(f"len(field_names) == {len(names)}, must equal n_fields == {n_fields}")
    decile, edges = activity_deciles(activity)
    groups: list[tuple[str, NDArray[np.bool_]]] = [
        ("all", np.ones(n, dtype=bool)),
        ("new", is_new),
        ("old", ~is_new),
    ]
    groups += [(f"activity_d{d + 1}", decile == d) for d in range(N_DECILES)]
    means = np.full((len(groups), n_fields), np.nan)
    counts = np.zeros(len(groups), dtype=np.int64)
    for i, (_, member) in enumerate(groups):
        counts[i] = int(member.sum())
        if counts[i] > 0:
            means[i] = weights[member].mean(axis=0)
    return AdapterWeightsByState(
        field_names=names,
        states=tuple(g for g, _ in groups),
        mean_weights=means,
        n_examples=counts,
        decile_edges=edges,
    )
