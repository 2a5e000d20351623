"""Tests for the MovieLens loader on small generated files in each supported layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents.datasets.movielens import MovieLensConfig, load_movielens, read_tables
from simulator.errors import ConfigError

# (user, item, rating, timestamp); user 1 rates item 10 twice at different times.
RATINGS = [
    (1, 10, 5, 100),
    (1, 20, 3, 200),
    (2, 10, 4, 150),
    (2, 30, 1, 160),
    (3, 20, 4, 300),
    (3, 30, 5, 50),
    (1, 30, 2, 400),
    (2, 20, 5, 500),
    (3, 10, 3, 600),
    (1, 40, 4, 700),
]


def write_ml1m(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ratings.dat").write_text("\n".join(f"{u}::{i}::{r}::{t}" for u, i, r, t in RATINGS))
    (root / "users.dat").write_text(
        "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n"
    )
    (root / "movies.dat").write_bytes(
        "10::Toy Story (1995)::Animation|Children's|Comedy\n"
        "20::Jumanji (1995)::Adventure|Children's|Fantasy\n"
        "30::Amélie (2001)::Comedy|Romance\n"
        "40::Heat (1995)::Action|Crime|Thriller\n".encode("latin-1")
    )


def write_ml100k(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.data").write_text("\n".join(f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in RATINGS) + "\n")
    (root / "u.user").write_text(
        "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"
    )
    flags = {10: 3, 20: 2, 30: 5, 40: 1}  # index of the first genre flag set
    lines = []
    for item, g in flags.items():
        f = ["0"] * 19
        f[g] = "1"
        lines.append(f"{item}|Movie {item} (1995)|01-Jan-1995||http://x|" + "|".join(f))
    (root / "u.item").write_text("\n".join(lines) + "\n")


def write_atomic(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter += "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS)
    (root / "ml-100k.inter").write_text(inter)
    (root / "ml-100k.user").write_text(
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n3\t23\tM\twriter\t32067\n"
    )
    (root / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "10\tToy Story\t1995\tAnimation Children's\n20\tJumanji\t1995\tAdventure\n"
        "30\tAmelie\t2001\tComedy Romance\n40\tHeat\t1995\tAction Crime\n"
    )


@pytest.mark.parametrize("writer", [write_ml1m, write_ml100k, write_atomic])
def test_layouts_give_the_same_samples(writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    writer(tmp_path / "ml")
    ratings, users, items = read_tables(tmp_path / "ml")
    assert len(ratings) == len(RATINGS)
    assert set(users.columns) == {"user", "age", "gender", "occupation", "zip"}
    assert set(items.columns) == {"item", "year", "genre"}
    data = load_movielens(tmp_path / "ml", MovieLensConfig(fractions=(1.0, 0.0, 0.0)))
    s = data.train
    assert len(s) == len(RATINGS)
    # rows keep the file order; dense ids follow the original numeric ids
    raw = np.array(RATINGS)
    np.testing.assert_array_equal(s.user_ids, raw[:, 0] - 1)
    np.testing.assert_array_equal(s.item_ids, raw[:, 1] // 10 - 1)
    np.testing.assert_array_equal(s.label("finish"), raw[:, 2] >= 4)
    np.testing.assert_array_equal(s.label("like"), raw[:, 2] == 5)
    np.testing.assert_array_equal(s.label("dislike"), raw[:, 2] <= 2)
    # causal counts, by hand: user 1 at t=400 has earlier ratings at t=100 (5) and t=200 (3)
    row = 6
    assert s.counts[row, 0] == 2
    assert s.counts[row, 1] == 1
    # item 30 at t=400 has earlier ratings at t=50 (5) and t=160 (1)
    assert s.counts[row, 3] == 2
    assert s.counts[row, 4] == 1
    assert data.spec.names[:2] == ("user_id", "item_id")
    assert "genre" in data.spec.names
    assert "occupation" in data.spec.names


def test_ml1m_genre_and_year(tmp_path: Path) -> None:
    write_ml1m(tmp_path)
    _, _, items = read_tables(tmp_path)
    assert items["genre"].tolist() == ["Animation", "Adventure", "Comedy", "Action"]
    assert items["year"].tolist() == ["1995", "1995", "2001", "1995"]


def test_random_split_is_seeded_and_6_2_2(tmp_path: Path) -> None:
    write_atomic(tmp_path)
    a = load_movielens(tmp_path, MovieLensConfig(split_seed=1))
    b = load_movielens(tmp_path, MovieLensConfig(split_seed=1))
    c = load_movielens(tmp_path, MovieLensConfig(split_seed=2))
    assert (len(a.train), len(a.valid), len(a.test)) == (6, 2, 2)
    np.testing.assert_array_equal(a.test.user_ids, b.test.user_ids)
    np.testing.assert_array_equal(a.test.item_ids, b.test.item_ids)
    joined = np.concatenate([a.train.counts[:, 0], a.valid.counts[:, 0], a.test.counts[:, 0]])
    assert joined.size == len(RATINGS)
    assert not (
        np.array_equal(a.test.item_ids, c.test.item_ids)
        and np.array_equal(a.test.user_ids, c.test.user_ids)
    )


def test_history_of_positive_items(tmp_path: Path) -> None:
    write_atomic(tmp_path)
    d = load_movielens(tmp_path, MovieLensConfig(fractions=(1.0, 0.0, 0.0), history_len=2))
    assert d.train.history is not None
    # user 1 at t=700: earlier positives item 10 (t=100) only -> [item 10 -> id 0, pad]
    assert d.train.history[9].tolist() == [0, -1]


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (None, "neither ratings.dat"),
        ("1::10::5\n", "line 1 has 3"),
    ],
)
def test_bad_folders(tmp_path: Path, content: str | None, pattern: str) -> None:
    if content is not None:
        write_ml1m(tmp_path)
        (tmp_path / "ratings.dat").write_text(content)
    with pytest.raises(ConfigError, match=pattern):
        load_movielens(tmp_path)


def test_real_ml100k_if_present() -> None:
    root = Path(__file__).resolve().parents[2] / "data" / "ml-100k"
    if not (root / "ml-100k.inter").exists():
        pytest.skip("run scripts/get-ml100k to fetch ML-100k")
    d = load_movielens(root)
    assert (len(d.train), len(d.valid), len(d.test)) == (60000, 20000, 20000)
    assert d.spec.capacities[:2] == (943, 1682)
