"""Tests for the run-directory loader: joins, labels, causal counts, no ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents.datasets.sim import SimDataConfig, load_run
from agents.features import TASKS
from simulator.errors import ConfigError


def events(run: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(f) for f in sorted((run / "events").glob("part-*.parquet"))]
    return pd.concat(frames, ignore_index=True).sort_values("minute", kind="stable")


def test_samples_match_the_log(tiny_run: Path) -> None:
    d = load_run(tiny_run, SimDataConfig(split="random", fractions=(1.0, 0.0, 0.0)))
    ev = events(tiny_run).reset_index(drop=True)
    s = d.train
    assert len(s) == len(ev)
    np.testing.assert_array_equal(s.user_ids, ev["user_id"])
    np.testing.assert_array_equal(s.item_ids, ev["item_id"])
    np.testing.assert_array_equal(s.labels[:, TASKS.index("finish")], ev["finish"])
    np.testing.assert_array_equal(s.labels[:, TASKS.index("like")], ev["like"])
    frac = np.clip(ev["listen_seconds"] / ev["item_seconds"], 0, 1)
    np.testing.assert_allclose(s.labels[:, TASKS.index("listen_fraction")], frac, rtol=1e-6)
    # no ground-truth column reaches a field
    assert not any(n.startswith("true_") for n in d.spec.names)
    assert {"user_id", "item_id", "artist_id", "genre", "age_band"} <= set(d.spec.names)


def test_counts_are_strictly_causal(tiny_run: Path) -> None:
    d = load_run(tiny_run, SimDataConfig(split="random", fractions=(1.0, 0.0, 0.0)))
    ev = events(tiny_run).reset_index(drop=True)
    rng = np.random.default_rng(0)
    for n in rng.choice(len(ev), 40, replace=False):
        e = ev.iloc[n]
        past = ev[ev["minute"] < e["minute"]]
        pu = past[past["user_id"] == e["user_id"]]
        pi = past[past["item_id"] == e["item_id"]]
        want = [len(pu), pu["like"].sum(), pu["comment"].sum()]
        want += [len(pi), pi["like"].sum(), pi["comment"].sum()]
        np.testing.assert_array_equal(d.train.counts[n], want)


def test_time_split_trains_on_the_past(tiny_run: Path) -> None:
    d = load_run(tiny_run)
    assert len(d.train) + len(d.valid) + len(d.test) == len(events(tiny_run))
    assert 0.5 < len(d.train) / (len(d.train) + len(d.valid) + len(d.test)) < 0.7
    # the test period's users include some new ones (registered within 7 days)
    assert d.test.new_user.any()


def test_max_events_and_arms(tiny_run: Path) -> None:
    d = load_run(tiny_run, SimDataConfig(split="random", max_events=500))
    assert len(d.train) + len(d.valid) + len(d.test) == 500
    with pytest.raises(ConfigError, match="has no events"):
        load_run(tiny_run, SimDataConfig(arms=("nonexistent",)))


def test_window_and_fixed_cutoffs(tiny_run: Path) -> None:
    ev = events(tiny_run).reset_index(drop=True)
    minutes = ev["minute"].to_numpy()
    first, valid_from, test_from = np.quantile(minutes, [0.3, 0.6, 0.8]).astype(int)
    d = load_run(tiny_run, SimDataConfig(first_minute=int(first), cutoffs=(valid_from, test_from)))
    kept = ev[ev["minute"] >= first].reset_index(drop=True)
    split = [kept["minute"] < valid_from, kept["minute"] >= test_from]
    assert len(d.train) == split[0].sum()
    assert len(d.test) == split[1].sum()
    assert len(d.train) + len(d.valid) + len(d.test) == len(kept)
    np.testing.assert_array_equal(d.test.item_ids, kept[split[1]]["item_id"])
    # The counts start at the window, as if the log began there: the user impressions of
    # the last test row of a user who listened before the window count only the window's.
    before = ev[ev["minute"] < first]
    n = int(np.flatnonzero(split[1] & kept["user_id"].isin(before["user_id"]))[-1])
    e = kept.iloc[n]
    past = kept[(kept["minute"] < e["minute"]) & (kept["user_id"] == e["user_id"])]
    row = n - int(np.count_nonzero(~split[1][:n]))  # its row in the test part
    assert d.test.counts[row, 0] == len(past)
    assert len(past) < len(ev[(ev["minute"] < e["minute"]) & (ev["user_id"] == e["user_id"])])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"cutoffs": (10, 5)}, r"cutoffs == \(10, 5\), must be \(valid_from, test_from\)"),
        ({"split": "random", "cutoffs": (1, 2)}, r"cutoffs == \(1, 2\) needs split 'time'"),
        ({"first_minute": 7, "cutoffs": (5, 9)}, "first_minute == 7, must be <= cutoffs"),
        ({"split": "weekly"}, "split == 'weekly'"),
        ({"new_user_days": -1}, "new_user_days == -1"),
        ({"max_events": 0}, "max_events == 0"),
    ],
)
def test_invalid_config(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        SimDataConfig(**kwargs)  # type: ignore[arg-type]


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"users\.parquet does not exist"):
        load_run(tmp_path)


def test_history_holds_earlier_finished_items(tiny_run: Path) -> None:
    d = load_run(tiny_run, SimDataConfig(split="random", fractions=(1.0, 0.0, 0.0), history_len=2))
    ev = events(tiny_run).reset_index(drop=True)
    assert d.train.history is not None
    assert d.spec.history_len == 2
    rng = np.random.default_rng(1)
    for n in rng.choice(len(ev), 30, replace=False):
        e = ev.iloc[n]
        past = ev[(ev["minute"] < e["minute"]) & (ev["user_id"] == e["user_id"]) & ev["finish"]]
        want = past["item_id"].tolist()[::-1][:2]
        want += [-1] * (2 - len(want))
        assert d.train.history[n].tolist() == want


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BROKEN_FILES = [
    # (file of the run, how it is broken, message pattern)
    ("events/part-*.parquet", lambda p: p.write_bytes(b""), r"is not a readable Parquet file"),
    ("events/part-*.parquet", _truncate, r"is not a readable Parquet file \(Parquet magic"),
    (
        "events/part-*.parquet",
        lambda p: pd.read_parquet(p).drop(columns="minute").to_parquet(p),
        r"lacks column\(s\) \['minute'\]",
    ),
    (
        "events/part-*.parquet",
        lambda p: pd.read_parquet(p).astype({"day": str}).to_parquet(p),
        r"column 'day' has type (large_)?string, must be a number",
    ),
    ("users.parquet", lambda p: p.write_text("user_id\n1\n"), r"is not a readable Parquet"),
    (
        "items.parquet",
        lambda p: pd.DataFrame({"x": [1]}).to_parquet(p),
        r"lacks column\(s\) \['item_id'\]",
    ),
]


@pytest.mark.parametrize(("name", "breaks", "pattern"), BROKEN_FILES)
def test_a_broken_file_is_one_line_naming_it(
    tiny_run: Path, tmp_path: Path, name: str, breaks: object, pattern: str
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    target = sorted(run.glob(name))[-1]
    breaks(target)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=pattern) as info:
        load_run(run)
    assert str(target) in str(info.value)
    assert "\n" not in str(info.value)
