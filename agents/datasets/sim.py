"""Training samples from a simulated run's event log, as the agent saw them at the time.

A run directory holds ``events/part-*.parquet`` (one row per impression),
``users.parquet`` (``user_id, arm, registration_day, cohort`` then one int column per user
meta field) and ``items.parquet`` (``item_id, release_day, item_seconds, artist_id`` then
one int column per item meta field). This module joins them into encoded
:class:`~agents.datasets.samples.Samples`:

* fields: user id and meta, item id, artist id and meta (static, observable features);
* counts: impressions, likes and comments of the user and of the item over events at
  strictly earlier minutes (:func:`agents.features.counts_before`): what a streaming agent
  had observed when it served the impression, never anything later;
* labels: finish, like, comment, dislike and listen fraction (``listen_seconds /
  item_seconds``, clipped to [0, 1]).

Ground-truth (``true_*``) columns are never read. A sample's user is "new" if the event
happened fewer than ``new_user_days`` days after the user registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from agents.datasets.samples import OfflineData, Samples, split_indices, time_split_indices
from agents.features import FeatureSpec, counts_before, history_before
from simulator.errors import ConfigError
from simulator.types import FieldSpec

_USER_RESERVED = ("user_id", "arm", "registration_day", "cohort")
_ITEM_RESERVED = ("item_id", "release_day", "item_seconds", "artist_id")
_EVENT_COLUMNS = (
    "minute",
    "day",
    "user_id",
    "item_id",
    "arm",
    "listen_seconds",
    "item_seconds",
    "finish",
    "like",
    "comment",
    "dislike",
)


@dataclass(frozen=True)
class SimDataConfig:
    """Options of the run-directory loader.

    Attributes:
        split: ``"time"``: the earliest 60% of minutes train, the next 20% validate, the
            last 20% test (the way a model is trained on the past and serves the future);
            ``"random"``: a seeded random split, as for MovieLens.
        fractions: Train, validation, test proportions.
        split_seed: Seed of the random split.
        arms: Keep only events of these arms (``None``: all).
        n_count_buckets: Log2 buckets of the count fields (0: counts not used as fields).
        history_len: Recent finished items per sample (0: none).
        new_user_days: Events within this many days of registration are "new user" events.
        max_events: Keep only the first ``max_events`` events in time (``None``: all).
        first_minute: Drop the events before this minute (``None``: keep all), as if the
            log began there: the counts start from it too. Applied before ``max_events``.
        cutoffs: ``(valid_from, test_from)`` minutes of a time split at fixed times: train
            before ``valid_from``, validate up to ``test_from``, test from it on (``None``:
            the split by ``fractions``). Only with ``split="time"``.
    """

    split: Literal["time", "random"] = "time"
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    split_seed: int = 0
    arms: tuple[str, ...] | None = None
    n_count_buckets: int = 16
    history_len: int = 0
    new_user_days: int = 7
    max_events: int | None = None
    first_minute: int | None = None
    cutoffs: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.split not in ("time", "random"):
            raise ConfigError(f"split == {self.split!r}, must be 'time' or 'random'")
        if self.new_user_days < 0:
            raise ConfigError(f"new_user_days == {self.new_user_days}, must be >= 0")
        if self.max_events is not None and self.max_events < 1:
            raise ConfigError(f"max_events == {self.max_events}, must be >= 1 or None")
        if self.cutoffs is not None:
            if self.split != "time":
                raise ConfigError(
                    f"cutoffs == {self.cutoffs} needs split 'time', not {self.split!r}"
                )
            if len(self.cutoffs) != 2 or self.cutoffs[0] > self.cutoffs[1]:
                raise ConfigError(
                    f"cutoffs == {self.cutoffs}, must be (valid_from, test_from) with "
                    "valid_from <= test_from"
                )
            if self.first_minute is not None and self.first_minute > self.cutoffs[0]:
                raise ConfigError(
                    f"first_minute == {self.first_minute}, must be <= cutoffs[0] == "
                    f"{self.cutoffs[0]}: the window would have no training part"
                )


def event_order(minute: NDArray[np.int64], config: SimDataConfig) -> NDArray[np.int64]:
    """Indices of the events :func:`load_run` keeps, in its order (by minute, stable).

    ``config.first_minute`` drops the earlier events, then ``config.max_events`` keeps the
    first ones. Public so that a caller reading other columns of the same files (e.g. the
    ground truth, which the loader never reads) can align them with the samples.
    """
    order = np.argsort(minute, kind="stable")
    if config.first_minute is not None:
        order = order[minute[order] >= config.first_minute]
    return order[: config.max_events]


def time_split(
    minute: NDArray[np.int64], config: SimDataConfig
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Train, validation and test rows of the kept events' minutes (``split="time"``)."""
    if config.cutoffs is None:
        return time_split_indices(minute, config.fractions)
    valid_from, test_from = config.cutoffs
    rows = np.arange(minute.size)
    return (
        rows[minute < valid_from],
        rows[(minute >= valid_from) & (minute < test_from)],
        rows[minute >= test_from],
    )


def _int_table(table: pa.Table, reserved: tuple[str, ...]) -> list[str]:
    """Meta columns: integer columns that are neither reserved nor ground truth."""
    out = []
    for name, typ in zip(table.column_names, table.schema.types, strict=True):
        if name in reserved or name.startswith(("true_", "latent")):
            continue
        if pa.types.is_integer(typ):
            out.append(name)
    return out


def _read(path: Path, columns: Sequence[str], what: str) -> pa.Table:
    """One Parquet file, checked first: a broken file or a missing column is one line.

    ``columns`` must all be present; the whole file is read if ``what`` is not
    ``"events"`` (the feature tables' meta columns are found by type).
    """
    try:
        schema = pq.read_schema(path)
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise ConfigError(
                f"{what} file {str(path)!r} lacks column(s) {missing}; it has {schema.names}"
            )
        for c in columns:
            typ = schema.field(c).type
            numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
            if c != "arm" and not (numeric or pa.types.is_boolean(typ)):
                raise ConfigError(
                    f"{what} file {str(path)!r} column {c!r} has type {typ}, must be a number"
                )
        return pq.read_table(path, columns=list(columns) if what == "events" else None)
    except (pa.ArrowException, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        reason = reason.partition("': ")[2] or reason  # drop pyarrow's "Could not open '...'"
        raise ConfigError(
            f"{what} file {str(path)!r} is not a readable Parquet file ({reason}); "
            "it may be truncated, corrupt or of another format"
        ) from None


def _read_events(root: Path) -> pa.Table:
    files = sorted((root / "events").glob("part-*.parquet"))
    if not files:
        raise ConfigError(f"no event files in {root / 'events'}; is {root} a run directory?")
    tables = [_read(f, _EVENT_COLUMNS, "events") for f in files]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as err:
        raise ConfigError(
            f"event files in {str(root / 'events')!r} disagree on column types ({err}); "
            "they must come from one run"
        ) from None


def _col(table: pa.Table, name: str, dtype: type) -> NDArray:  # type: ignore[type-arg]
    return np.asarray(table.column(name).to_numpy(), dtype=dtype)


def load_run(run_dir: str | Path, config: SimDataConfig | None = None) -> OfflineData:
    """Encode a simulated run's log as :class:`OfflineData` (see the module docstring)."""
    cfg = config or SimDataConfig()
    root = Path(run_dir)
    for name in ("users.parquet", "items.parquet"):
        if not (root / name).exists():
            raise ConfigError(f"{root / name} does not exist; is {root} a run directory?")
    users = _read(root / "users.parquet", ("user_id", "registration_day"), "users")
    items = _read(root / "items.parquet", ("item_id",), "items")
    events = _read_events(root)
    if cfg.arms is not None:
        arm = np.asarray(events.column("arm").to_pylist(), dtype=object)
        events = events.filter(pa.array(np.isin(arm, list(cfg.arms))))
    minute = _col(events, "minute", np.int64)
    order = event_order(minute, cfg)
    if order.size == 0:
        raise ConfigError(f"{root} has no events (arms={cfg.arms})")
    minute = minute[order]
    day = _col(events, "day", np.int64)[order]
    uid = _col(events, "user_id", np.int64)[order]
    iid = _col(events, "item_id", np.int64)[order]
    finish = _col(events, "finish", np.bool_)[order]
    like = _col(events, "like", np.bool_)[order]
    comment = _col(events, "comment", np.bool_)[order]
    dislike = _col(events, "dislike", np.bool_)[order]
    listen = _col(events, "listen_seconds", np.float64)[order]
    length = _col(events, "item_seconds", np.float64)[order]

    user_meta = _int_table(users, _USER_RESERVED)
    item_meta = _int_table(items, _ITEM_RESERVED)
    n_users = users.num_rows
    n_items = items.num_rows
    user_table = np.zeros((n_users, 1 + len(user_meta)), dtype=np.int64)
    user_table[_col(users, "user_id", np.int64), 0] = _col(users, "user_id", np.int64)
    user_fields = [FieldSpec("user_id", "user", "id", n_users)]
    item_ids = _col(items, "item_id", np.int64)
    has_artist = "artist_id" in items.column_names
    item_table = np.zeros((n_items, 1 + int(has_artist) + len(item_meta)), dtype=np.int64)
    item_table[item_ids, 0] = item_ids
    item_fields = [FieldSpec("item_id", "item", "id", n_items)]
    if has_artist:
        artist = _col(items, "artist_id", np.int64)
        item_table[item_ids, 1] = artist
        item_fields.append(FieldSpec("artist_id", "item", "id", int(artist.max()) + 1))
    # Meta vocabularies come from the feature tables, which list every user and item of
    # the world; an unused top category only leaves an untrained row.
    for j, c in enumerate(user_meta, start=1):
        v = _col(users, c, np.int64)
        user_table[_col(users, "user_id", np.int64), j] = v
        user_fields.append(FieldSpec(c, "user", "meta", int(v.max()) + 1))
    off = 1 + int(has_artist)
    for j, c in enumerate(item_meta, start=off):
        v = _col(items, c, np.int64)
        item_table[item_ids, j] = v
        item_fields.append(FieldSpec(c, "item", "meta", int(v.max()) + 1))
    spec = FeatureSpec.from_fields(
        user_fields, item_fields, n_count_buckets=cfg.n_count_buckets, history_len=cfg.history_len
    )

    ones = np.ones(uid.size)
    counts = np.stack(
        [
            counts_before(uid, minute, ones),
            counts_before(uid, minute, like.astype(np.float64)),
            counts_before(uid, minute, comment.astype(np.float64)),
            counts_before(iid, minute, ones),
            counts_before(iid, minute, like.astype(np.float64)),
            counts_before(iid, minute, comment.astype(np.float64)),
        ],
        axis=1,
    ).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(length > 0, np.clip(listen / length, 0.0, 1.0), 0.0)
    labels = np.stack([finish, like, comment, dislike, frac], axis=1).astype(np.float32)
    reg_day = np.zeros(n_users, dtype=np.int64)
    reg_day[_col(users, "user_id", np.int64)] = _col(users, "registration_day", np.int64)
    history = (
        history_before(uid, minute, iid, finish, cfg.history_len) if cfg.history_len > 0 else None
    )
    samples = Samples(
        fields=spec.encode(user_table[uid], item_table[iid], counts),
        counts=counts,
        labels=labels,
        user_ids=uid,
        item_ids=iid,
        new_user=(day - reg_day[uid]) < cfg.new_user_days,
        history=history,
    )
    if cfg.split == "time":
        tr, va, te = time_split(minute, cfg)
        how = (
            f"time {':'.join(f'{f:g}' for f in cfg.fractions)} by minute"
            if cfg.cutoffs is None
            else f"time: validate from minute {cfg.cutoffs[0]}, test from {cfg.cutoffs[1]}"
        )
    else:
        tr, va, te = split_indices(len(samples), cfg.fractions, cfg.split_seed)
        how = f"random {':'.join(f'{f:g}' for f in cfg.fractions)}, seed {cfg.split_seed}"
    return OfflineData(
        name=f"sim:{root}",
        spec=spec,
        train=samples.take(tr),
        valid=samples.take(va),
        test=samples.take(te),
        split=how,
    )


__all__ = ["SimDataConfig", "event_order", "load_run", "time_split"]
