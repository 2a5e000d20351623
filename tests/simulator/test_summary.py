"""The long-tail summary: shares by hand, per-cohort means from a synthetic log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.engine.eventlog import EventLog, write_items, write_users
from simulator.engine.summary import summarize_run, top_share


@pytest.mark.parametrize(
    ("counts", "fraction", "expected"),
    [
        ([10, 0, 0, 0], 0.05, 1.0),  # ceil(0.2) = 1 entry
        ([1] * 40, 0.05, 2 / 40),  # ceil(2.0) = 2 entries
        ([5, 3, 2] + [0] * 18, 0.05, 8 / 10),  # ceil(1.05) = 2 entries: 5 + 3
        ([4, 4, 1, 1], 0.5, 0.8),
    ],
)
def test_top_share_by_hand(counts: list[int], fraction: float, expected: float) -> None:
    assert top_share(np.array(counts), fraction) == pytest.approx(expected)


def test_top_share_of_nothing_is_nan() -> None:
    assert np.isnan(top_share(np.zeros(3, np.int64)))


def test_summary_of_a_hand_made_log(tmp_path: Path) -> None:
    # users 0, 1 old; 2 new (registered day 0); 3 never active
    write_users(
        tmp_path / "users.parquet",
        np.array([-30, -20, 0, 0]),
        ["a"] * 4,
        ["old", "old", "new", "new"],
        np.zeros((4, 1), np.int64),
        ["age_band"],
    )
    write_items(
        tmp_path / "items.parquet",
        np.zeros(3, np.int64),
        np.full(3, 100.0),
        np.zeros(3, np.int64),
        np.zeros((3, 1), np.int64),
        ["genre"],
    )
    user = np.array([0, 0, 0, 1, 2, 2])
    day = np.array([0, 1, 1, 0, 0, 0])
    n = user.size
    cols = {
        "minute": day * 1440,
        "day": day,
        "user_id": user,
        "item_id": np.array([0, 0, 1, 0, 0, 2]),
        "arm": np.zeros(n, np.int64),
        "session_id": np.arange(n),
        "step": np.zeros(n, np.int64),
        "pscore": np.full(n, 0.5),
        "listen_seconds": np.array([100.0, 50, 10, 100, 20, 30]),
        "item_seconds": np.full(n, 100.0),
        "finish": np.array([1, 0, 0, 1, 0, 0], bool),
        "skip": np.array([0, 1, 1, 0, 1, 1], bool),
        "like": np.zeros(n, bool),
        "comment": np.zeros(n, bool),
        "dislike": np.zeros(n, bool),
        "true_finish_prob": np.full(n, 0.5),
        "true_noise_skip": np.array([0, 0, 1, 0, 0, 0], bool),
    }
    with EventLog(tmp_path, ["a"], chunk_rows=4) as log:
        log.append(cols)
    s = summarize_run(tmp_path, n_days=2)
    assert s.n_impressions == 6
    assert s.n_active_users == 3
    assert s.n_items == 3
    assert s.top5_item_share == pytest.approx(4 / 6)  # item 0 has 4 of 6
    assert s.top5_user_share == pytest.approx(3 / 6)  # user 0 has 3 of 6
    assert s.noise_skip_share == pytest.approx(1 / 6)
    assert s.finish_rate == pytest.approx(2 / 6)
    assert s.active_days_per_user == pytest.approx({"old": 1.5, "new": 0.5, "all": 1.0})
    assert s.duration_per_user == pytest.approx({"old": 130.0, "new": 25.0, "all": 77.5})
    assert "top 5% items" in str(s)
    s.write_json(tmp_path / "summary.json")
    assert set(s.to_dict()) >= {
        "top5_item_share",
        "top5_user_share",
        "noise_skip_share",
        "finish_rate",
        "active_days_per_user",
        "duration_per_user",
    }
