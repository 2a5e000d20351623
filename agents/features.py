"""The feature spec of the base models: which categorical fields, in which order, how big.

A :class:`FeatureSpec` fixes the column order of ``FeatureBatch.fields``: ID fields first
(user, item, artist), then user meta fields, then item meta fields, then, optionally, the
interaction counts bucketed on a log scale (the state signals as categorical fields). It is
built from what an agent may see: a world's :class:`~simulator.types.ObservableWorld`, a
run directory's ``users.parquet``/``items.parquet``, or MovieLens tables. Ground-truth
columns never enter a spec.

Unseen ids. Embedding tables have a fixed capacity per field, set when the spec is built
(``id_capacity`` for the ID fields, the vocabulary size for meta fields, whose categories are
known up front). A code outside ``[0, capacity)`` is looked up in one extra
out-of-vocabulary (OOV) row per field. So a new user or song that arrives after the tables
were sized shares the OOV row of its field until a model with more capacity is built; no
agent needs the future vocabulary to size its tables. When ``id_capacity`` is not given the
ID fields take their ``vocab_size``, which only sizes the tables: rows of ids that have not
arrived stay at their initial values, so nothing is learnt from the future.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray

from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch
from simulator.errors import ConfigError
from simulator.types import FieldSpec, ObservableWorld

TASKS: tuple[str, ...] = ("finish", "like", "comment", "dislike", "listen_fraction")
"""Every label a base model can be trained on, in the column order of the data sets."""

Source = tuple[Literal["user", "item", "count"], int]


def count_buckets(counts: NDArray[np.floating], n_buckets: int) -> NDArray[np.int64]:
    """Log-scale buckets ``min(floor(log2(1 + c)), n_buckets - 1)`` of non-negative counts.

    Example:
        >>> count_buckets(np.array([0.0, 1.0, 2.0, 3.0, 1000.0]), 4).tolist()
        [0, 1, 1, 2, 3]
    """
    c = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)
    return np.minimum(np.floor(np.log2(1.0 + c)), n_buckets - 1).astype(np.int64)


@dataclass(frozen=True)
class FeatureSpec:
    """Ordered categorical fields of a base model and the size of their tables.

    Build it with :meth:`from_fields` or :meth:`from_world`, not by hand.

    Attributes:
        fields: The fields in ``FeatureBatch.fields`` column order.
        capacities: Table rows per field, OOV row excluded (codes ``>= capacity`` use it).
        sources: Where each field comes from: ``("user", j)``/``("item", j)`` is column
            ``j`` of the user/item feature table, ``("count", k)`` the log bucket of
            ``COUNT_COLUMNS[k]``.
        n_count_buckets: Buckets per count field (0: counts are not fields).
        history_len: Length of the user's recent-item history in a batch (0: none).
    """

    fields: tuple[FieldSpec, ...]
    capacities: tuple[int, ...]
    sources: tuple[Source, ...]
    n_count_buckets: int = 0
    history_len: int = 0
    user_columns: int = field(default=0)
    item_columns: int = field(default=0)

    def __post_init__(self) -> None:
        if not len(self.fields) == len(self.capacities) == len(self.sources):
            raise ConfigError(
                f"fields, capacities and sources have lengths {len(self.fields)}, "
                f"{len(self.capacities)}, {len(self.sources)}; must be equal"
            )
        for f, cap in zip(self.fields, self.capacities, strict=True):
            if cap < 1:
                raise ConfigError(f"capacity of field {f.name!r} == {cap}, must be >= 1")
        if self.history_len < 0:
            raise ConfigError(f"history_len == {self.history_len}, must be >= 0")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ConfigError(f"field names {names} repeat, must be unique")
        if "user_id" not in names or "item_id" not in names:
            raise ConfigError(f"fields {names} must include 'user_id' and 'item_id'")

    @classmethod
    def from_fields(
        cls,
        user_fields: Sequence[FieldSpec],
        item_fields: Sequence[FieldSpec],
        *,
        id_capacity: int | None = None,
        n_count_buckets: int = 16,
        history_len: int = 0,
    ) -> FeatureSpec:
        """Order the fields: IDs (user's, then item's), user meta, item meta, counts.

        Args:
            user_fields: Fields of a user in the column order of the user feature table;
                column 0 must be ``user_id``.
            item_fields: Same for items; column 0 must be ``item_id``.
            id_capacity: Table rows of each ID field; ``None`` uses its ``vocab_size``.
            n_count_buckets: Log2 buckets per interaction count field; 0 leaves counts out
                of the fields (they stay in ``FeatureBatch.counts`` for the adapter).
            history_len: Recent items per example (0: no history).
        """
        if not user_fields or user_fields[0].name != "user_id":
            raise ConfigError(
                f"user_fields[0] is {user_fields[0].name if user_fields else None!r}, "
                "must be 'user_id'"
            )
        if not item_fields or item_fields[0].name != "item_id":
            raise ConfigError(
                f"item_fields[0] is {item_fields[0].name if item_fields else None!r}, "
                "must be 'item_id'"
            )
        if id_capacity is not None and id_capacity < 1:
            raise ConfigError(f"id_capacity == {id_capacity}, must be >= 1 or None")
        if n_count_buckets < 0:
            raise ConfigError(f"n_count_buckets == {n_count_buckets}, must be >= 0")
        tagged: list[tuple[FieldSpec, Source]] = []
        for kind in ("id", "meta"):
            for owner, table in (("user", user_fields), ("item", item_fields)):
                for j, f in enumerate(table):
                    if f.kind == kind:
                        tagged.append((f, (owner, j)))  # type: ignore[arg-type]
        if n_count_buckets > 0:
            for k, name in enumerate(COUNT_COLUMNS):
                owner = "user" if name.startswith("user_") else "item"
                spec = FieldSpec(f"{name}_bucket", owner, "meta", n_count_buckets)  # type: ignore[arg-type]
                tagged.append((spec, ("count", k)))
        fields = tuple(f for f, _ in tagged)
        caps = tuple(
            id_capacity if (f.kind == "id" and id_capacity is not None) else max(f.vocab_size, 1)
            for f in fields
        )
        return cls(
            fields=fields,
            capacities=caps,
            sources=tuple(s for _, s in tagged),
            n_count_buckets=n_count_buckets,
            history_len=history_len,
            user_columns=len(user_fields),
            item_columns=len(item_fields),
        )

    @classmethod
    def from_world(
        cls,
        world: ObservableWorld,
        *,
        id_capacity: int | None = None,
        n_count_buckets: int = 16,
        history_len: int = 0,
    ) -> FeatureSpec:
        """The spec of a world's observable user and item fields (see :meth:`from_fields`)."""
        return cls.from_fields(
            world.user_fields,
            world.item_fields,
            id_capacity=id_capacity,
            n_count_buckets=n_count_buckets,
            history_len=history_len,
        )

    @property
    def n_fields(self) -> int:
        """Number of columns of ``FeatureBatch.fields``."""
        return len(self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in column order."""
        return tuple(f.name for f in self.fields)

    @property
    def id_fields(self) -> tuple[int, ...]:
        """Positions of the ID fields (user, item, artist)."""
        return tuple(i for i, f in enumerate(self.fields) if f.kind == "id")

    def index(self, name: str) -> int:
        """Position of the field called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ConfigError(
                f"field {name!r} is not in the spec, fields are {self.names}"
            ) from None

    def encode(
        self,
        user_codes: NDArray[np.int64],
        item_codes: NDArray[np.int64],
        counts: NDArray[np.floating],
    ) -> NDArray[np.int64]:
        """``(B, n_fields)`` codes from user and item feature rows and raw counts.

        Args:
            user_codes: ``(B, user_columns)`` rows of the user feature table.
            item_codes: ``(B, item_columns)`` rows of the item feature table.
            counts: ``(B, len(COUNT_COLUMNS))`` interaction counts seen before each example.
        """
        b = user_codes.shape[0]
        if user_codes.shape != (b, self.user_columns):
            raise ConfigError(
                f"user_codes has shape {user_codes.shape}, must be ({b}, {self.user_columns})"
            )
        if item_codes.shape != (b, self.item_columns):
            raise ConfigError(
                f"item_codes has shape {item_codes.shape}, must be ({b}, {self.item_columns})"
            )
        if counts.shape != (b, len(COUNT_COLUMNS)):
            raise ConfigError(
                f"counts has shape {counts.shape}, must be ({b}, {len(COUNT_COLUMNS)})"
            )
        out = np.empty((b, self.n_fields), dtype=np.int64)
        for i, (src, j) in enumerate(self.sources):
            if src == "user":
                out[:, i] = user_codes[:, j]
            elif src == "item":
                out[:, i] = item_codes[:, j]
            else:
                out[:, i] = count_buckets(counts[:, j], self.n_count_buckets)
        return out

    def make_batch(
        self,
        fields: NDArray[np.int64],
        counts: NDArray[np.floating],
        labels: NDArray[np.floating] | None = None,
        history: NDArray[np.int64] | None = None,
    ) -> FeatureBatch:
        """Wrap encoded arrays as a :class:`FeatureBatch` (no copy where dtypes match)."""
        if fields.ndim != 2 or fields.shape[1] != self.n_fields:
            raise ConfigError(f"fields has shape {fields.shape}, must be (B, {self.n_fields})")
        hist = None
        if self.history_len > 0:
            if history is None:
                history = np.full((fields.shape[0], self.history_len), -1, dtype=np.int64)
            hist = torch.from_numpy(np.ascontiguousarray(history, dtype=np.int64))
        return FeatureBatch(
            fields=torch.from_numpy(np.ascontiguousarray(fields, dtype=np.int64)),
            counts=torch.from_numpy(np.ascontiguousarray(counts, dtype=np.float32)),
            labels=None
            if labels is None
            else torch.from_numpy(np.ascontiguousarray(labels, dtype=np.float32)),
            history=hist,
        )

    def batch_from_world(
        self,
        world: ObservableWorld,
        user_ids: NDArray[np.int64],
        item_ids: NDArray[np.int64],
        counts: NDArray[np.floating],
        labels: NDArray[np.floating] | None = None,
        history: NDArray[np.int64] | None = None,
    ) -> FeatureBatch:
        """Look the features up in the world and build a batch (serving or training).

        ``counts`` must be what the agent had seen before these examples (e.g. from
        ``agents.counters.InteractionCounters``): the builder is causal only if they are.
        """
        fields = self.encode(world.user_features(user_ids), world.item_features(item_ids), counts)
        return self.make_batch(fields, counts, labels, history)


def counts_before(
    keys: NDArray[np.int64],
    times: NDArray[np.int64],
    values: NDArray[np.floating],
) -> NDArray[np.float64]:
    """Per-key sum of ``values`` over earlier events only (strictly smaller ``times``).

    Events at the same time as the current one are not counted: an agent serving a batch
    has not yet seen that batch's feedback. This is what makes the training features
    causal.

    Example:
        >>> counts_before(np.array([7, 7, 7, 8]), np.array([0, 1, 1, 1]),
        ...               np.array([1.0, 1.0, 1.0, 1.0])).tolist()
        [0.0, 1.0, 1.0, 0.0]
    """
    n = keys.size
    order = np.lexsort((times, keys))
    k, t, v = keys[order], times[order], values[order].astype(np.float64)
    excl = np.cumsum(v) - v  # sum of all values before position i (any key)
    new_key = np.r_[True, k[1:] != k[:-1]]
    new_run = new_key | np.r_[True, t[1:] != t[:-1]]
    pos = np.arange(n)
    key_start = np.maximum.accumulate(np.where(new_key, pos, 0))
    run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
    out_sorted = excl[run_start] - excl[key_start]
    out = np.empty(n, dtype=np.float64)
    out[order] = out_sorted
    return out


def history_before(
    users: NDArray[np.int64],
    times: NDArray[np.int64],
    items: NDArray[np.int64],
    positive: NDArray[np.bool_],
    history_len: int,
) -> NDArray[np.int64]:
    """``(n, history_len)`` each user's most recent positive items strictly before each event.

    Most recent first; ``-1`` pads users with a shorter history. Vectorised over events,
    looped over the (short) history length.
    """
    n = users.size
    out = np.full((n, history_len), -1, dtype=np.int64)
    if n == 0 or history_len == 0:
        return out
    order = np.lexsort((times, users))
    u, t = users[order], times[order]
    pos_sorted = positive[order]
    it = items[order]
    # Positive events of each user, in time order, and for every event the number of the
    # user's positive events at strictly earlier times.
    n_pos_before = counts_before(u, t, pos_sorted.astype(np.float64)).astype(np.int64)
    pos_idx = np.flatnonzero(pos_sorted)
    user_first_pos = np.searchsorted(u[pos_idx], u, side="left")
    res = np.full((n, history_len), -1, dtype=np.int64)
    for j in range(history_len):
        rank = user_first_pos + n_pos_before - 1 - j
        ok = n_pos_before > j
        res[ok, j] = it[pos_idx[rank[ok]]]
    out[order] = res
    return out


__all__ = [
    "TASKS",
    "FeatureSpec",
    "count_buckets",
    "counts_before",
    "history_before",
]
