"""MovieLens as offline training data, with the paper's protocol.

Three layouts are read, whichever the folder holds:

* ML-1M's original files: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``),
  ``users.dat`` (``UserID::Gender::Age::Occupation::Zip-code``), ``movies.dat``
  (``MovieID::Title (Year)::Genre|Genre``), latin-1 encoded;
* ML-100k's original files: ``u.data`` (tab separated), ``u.user`` and ``u.item`` (``|``);
* RecBole atomic files, as shipped in the recbole 1.2.1 wheel's
  ``recbole/dataset_example/ml-100k/`` (what ``scripts/get-ml100k`` extracts):
  ``ml-100k.inter``, ``ml-100k.user``, ``ml-100k.item``, tab separated with typed headers
  such as ``user_id:token``.

Protocol (the paper's, section 4.1): a rating >= 4 is a positive ("finish" label), the
samples are split at random 6:2:2 into train, validation and test with a seeded generator.
Other labels for multi-task runs: ``like`` = rating 5, ``dislike`` = rating <= 2,
``comment`` = 0, ``listen_fraction`` = rating / 5.

Features: user id, age, gender, occupation, first digit of the zip code; movie id, release
year, first listed genre; and the interaction counts of user and movie strictly before the
rating's timestamp (impressions = ratings, likes = positive ratings, comments = 0), so the
counts are causal in time. A user counts as "new" for a sample if they had fewer than
``new_user_max_ratings`` earlier ratings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from agents.datasets.samples import OfflineData, Samples, split_indices
from agents.features import FeatureSpec, counts_before, history_before
from simulator.errors import ConfigError
from simulator.types import FieldSpec


@dataclass(frozen=True)
class MovieLensConfig:
    """Options of the MovieLens loader.

    Attributes:
        positive_threshold: Ratings at or above it are positives (the paper: 4).
        fractions: Train, validation, test proportions (the paper: 6:2:2).
        split_seed: Seed of the random split (fixed across model seeds).
        n_count_buckets: Log2 buckets of the count fields (0: counts not used as fields).
        history_len: Recent positive movies per sample (0: none).
        new_user_max_ratings: Fewer earlier ratings than this makes a sample's user "new".
    """

    positive_threshold: float = 4.0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    split_seed: int = 0
    n_count_buckets: int = 16
    history_len: int = 0
    new_user_max_ratings: int = 20

    def __post_init__(self) -> None:
        if self.new_user_max_ratings < 0:
            raise ConfigError(f"new_user_max_ratings == {self.new_user_max_ratings}, must be >= 0")


def _read_atomic(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    df.columns = [c.split(":")[0] for c in df.columns]
    return df


def _read_dat(path: Path, names: list[str]) -> pd.DataFrame:
    lines = path.read_text(encoding="latin-1").splitlines()
    rows = [line.split("::") for line in lines if line.strip()]
    bad = [i for i, r in enumerate(rows) if len(r) != len(names)]
    if bad:
        raise ConfigError(
            f"{path} line {bad[0] + 1} has {len(rows[bad[0]])} '::'-separated values, "
            f"must have {len(names)} ({', '.join(names)})"
        )
    return pd.DataFrame(rows, columns=names)


def read_tables(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ratings, users and movies of a MovieLens folder in one normalised form.

    Returns:
        ``ratings`` (user, item, rating, timestamp), ``users`` (user, age, gender,
        occupation, zip), ``items`` (item, year, genre); all keys and categories as str,
        ``rating`` and ``timestamp`` numeric.
    """
    root = Path(path)
    if (root / "ratings.dat").exists():
        ratings = _read_dat(root / "ratings.dat", ["user", "item", "rating", "timestamp"])
        users = _read_dat(root / "users.dat", ["user", "gender", "age", "occupation", "zip"])
        movies = _read_dat(root / "movies.dat", ["item", "title", "genres"])
        years = movies["title"].str.extract(r"\((\d{4})\)\s*$")[0].fillna("unknown")
        items = pd.DataFrame(
            {"item": movies["item"], "year": years, "genre": movies["genres"].str.split("|").str[0]}
        )
    elif (root / "u.data").exists():
        ratings = pd.read_csv(
            root / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"], dtype=str
        )
        users = pd.read_csv(
            root / "u.user",
            sep="|",
            names=["user", "age", "gender", "occupation", "zip"],
            dtype=str,
            encoding="latin-1",
        )
        raw = pd.read_csv(root / "u.item", sep="|", header=None, dtype=str, encoding="latin-1")
        genre_names = [
            "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
            "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
            "Romance", "Sci-Fi", "Thriller", "War", "Western",
        ]  # fmt: skip
        flags = raw.iloc[:, 5:24].astype(int).to_numpy()
        first = np.where(flags.any(axis=1), flags.argmax(axis=1), 0)
        items = pd.DataFrame(
            {
                "item": raw[0],
                "year": raw[2].fillna("").str[-4:].replace("", "unknown"),
                "genre": np.asarray(genre_names)[first],
            }
        )
    else:
        atomic = {s: sorted(root.glob(f"*.{s}")) for s in ("inter", "user", "item")}
        if not all(atomic.values()):
            raise ConfigError(
                f"{root} holds neither ratings.dat (ML-1M), u.data (ML-100k) nor RecBole "
                "atomic files (*.inter, *.user, *.item); run scripts/get-ml100k for ML-100k"
            )
        inter = _read_atomic(atomic["inter"][0])
        ratings = inter.rename(columns={"user_id": "user", "item_id": "item"})
        u = _read_atomic(atomic["user"][0])
        users = u.rename(columns={"user_id": "user", "zip_code": "zip"})
        it = _read_atomic(atomic["item"][0])
        items = pd.DataFrame(
            {
                "item": it["item_id"],
                "year": it.get("release_year", pd.Series(["unknown"] * len(it))),
                "genre": it["class"].str.split(" ").str[0] if "class" in it else "unknown",
            }
        )
    ratings = ratings[["user", "item", "rating", "timestamp"]].copy()
    ratings["rating"] = pd.to_numeric(ratings["rating"])
    ratings["timestamp"] = pd.to_numeric(ratings["timestamp"]).astype(np.int64)
    users = users[["user", "age", "gender", "occupation", "zip"]].astype(str)
    return ratings, users, items.astype(str)


def _codes(values: pd.Series) -> tuple[NDArray[np.int64], int]:
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), len(uniques)


def load_movielens(path: str | Path, config: MovieLensConfig | None = None) -> OfflineData:
    """Encode a MovieLens folder as :class:`OfflineData` (see the module docstring)."""
    cfg = config or MovieLensConfig()
    ratings, users, items = read_tables(path)
    if ratings.empty:
        raise ConfigError(f"{path} has no ratings")
    # Dense ids over the users and movies that have ratings or features.
    user_keys = pd.Index(sorted(set(users["user"]) | set(ratings["user"]), key=_natural))
    item_keys = pd.Index(sorted(set(items["item"]) | set(ratings["item"]), key=_natural))
    users = users.set_index("user").reindex(user_keys, fill_value="unknown")
    items = items.drop_duplicates("item").set_index("item").reindex(item_keys, fill_value="unknown")
    users["zip"] = users["zip"].str[:1]
    user_cols = ["age", "gender", "occupation", "zip"]
    item_cols = ["year", "genre"]
    user_table = np.zeros((len(user_keys), 1 + len(user_cols)), dtype=np.int64)
    item_table = np.zeros((len(item_keys), 1 + len(item_cols)), dtype=np.int64)
    user_table[:, 0] = np.arange(len(user_keys))
    item_table[:, 0] = np.arange(len(item_keys))
    user_fields = [FieldSpec("user_id", "user", "id", len(user_keys))]
    item_fields = [FieldSpec("item_id", "item", "id", len(item_keys))]
    for j, c in enumerate(user_cols, start=1):
        user_table[:, j], k = _codes(users[c])
        user_fields.append(FieldSpec(c, "user", "meta", k))
    for j, c in enumerate(item_cols, start=1):
        item_table[:, j], k = _codes(items[c])
        item_fields.append(FieldSpec(c, "item", "meta", k))
    spec = FeatureSpec.from_fields(
        user_fields,
        item_fields,
        n_count_buckets=cfg.n_count_buckets,
        history_len=cfg.history_len,
    )
    uid = user_keys.get_indexer(pd.Index(ratings["user"])).astype(np.int64)
    iid = item_keys.get_indexer(pd.Index(ratings["item"])).astype(np.int64)
    ts = ratings["timestamp"].to_numpy(np.int64)
    rating = ratings["rating"].to_numpy(np.float64)
    pos = rating >= cfg.positive_threshold
    ones = np.ones(uid.size)
    zeros = np.zeros(uid.size)
    counts = np.stack(
        [
            counts_before(uid, ts, ones),
            counts_before(uid, ts, pos.astype(np.float64)),
            zeros,
            counts_before(iid, ts, ones),
            counts_before(iid, ts, pos.astype(np.float64)),
            zeros,
        ],
        axis=1,
    ).astype(np.float32)
    labels = np.stack(
        [pos, rating >= 5, zeros, rating <= 2, np.clip(rating / 5.0, 0.0, 1.0)], axis=1
    ).astype(np.float32)
    history = history_before(uid, ts, iid, pos, cfg.history_len) if cfg.history_len > 0 else None
    samples = Samples(
        fields=spec.encode(user_table[uid], item_table[iid], counts),
        counts=counts,
        labels=labels,
        user_ids=uid,
        item_ids=iid,
        new_user=counts[:, 0] < cfg.new_user_max_ratings,
        history=history,
    )
    tr, va, te = split_indices(len(samples), cfg.fractions, cfg.split_seed)
    return OfflineData(
        name=f"movielens:{path}",
        spec=spec,
        train=samples.take(tr),
        valid=samples.take(va),
        test=samples.take(te),
        split=f"random {':'.join(f'{f:g}' for f in cfg.fractions)}, seed {cfg.split_seed}",
    )


def _natural(key: str) -> tuple[int, int | str]:
    # Numeric ids sort numerically so that dense ids follow the original ids.
    return (0, int(key)) if re.fullmatch(r"\d+", key) else (1, key)


__all__ = ["MovieLensConfig", "load_movielens", "read_tables"]
