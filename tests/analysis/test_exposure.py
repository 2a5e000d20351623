"""Exposure diagnostics on a hand-built log: coverage, Gini, new and tail shares, dislikes.

The catalogue has five items: 0, 1, 2 released long ago, 3 on day -3, and 4 on day 1 (mid
run). The head is item 0. Arm ``a`` shows items on days 0 and 1 and nothing on day 2;
arm ``b`` shows one item on day 2 only. Days -1 and 3 are outside the reported days.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.exposure import (
    ExposureConfig,
    arm_exposure,
    daily_exposure,
    head_items,
    release_days,
)

RELEASE = np.array([-30, -30, -30, -3, 1])
HEAD = [0]
CONFIG = ExposureConfig(start_day=0, end_day=3)

_ROWS = [  # arm, day, item_id, pscore, dislike
    ("a", -1, 2, 0.5, True),  # before the reported days: ignored
    ("a", 0, 0, 0.9, False),
    ("a", 0, 0, 0.9, False),
    ("a", 0, 1, 0.05, True),
    ("a", 0, 3, 0.5, False),
    ("a", 1, 0, 0.95, False),
    ("a", 1, 4, 0.1, True),  # pscore == 0.1: exploitation (the rule is strict)
    ("a", 1, 4, 0.02, True),
    ("a", 1, 2, 0.6, False),
    ("a", 3, 1, 0.01, True),  # after the reported days: ignored
    ("b", 2, 4, 0.05, True),
]
EVENTS = pd.DataFrame(_ROWS, columns=["arm", "day", "item_id", "pscore", "dislike"])


def mad_gini(counts: list[int]) -> float:
    """Gini by the mean absolute difference, ``sum_ij |x_i - x_j| / (2 n^2 mean)``.

    Independent of :func:`analysis.bias.gini`'s sorted-rank formula.
    """
    x = np.asarray(counts, dtype=float)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean()))


def _day(arm: str, day: int) -> Any:
    (row,) = [
        r for r in daily_exposure(EVENTS, RELEASE, HEAD, CONFIG) if (r.arm, r.day) == (arm, day)
    ]
    return row


def test_every_arm_has_a_row_for_every_day() -> None:
    rows = daily_exposure(EVENTS, RELEASE, HEAD, CONFIG)
    assert [(r.arm, r.day) for r in rows] == [(a, d) for a in "ab" for d in (0, 1, 2)]


def test_first_day_by_hand() -> None:
    r = _day("a", 0)
    # Released by day 0: items 0-3 (item 4 comes on day 1); shown 0, 0, 1, 3.
    assert (r.n_impressions, r.coverage, r.n_items) == (4, 3, 4)
    assert r.coverage_share == pytest.approx(3 / 4)
    # Exposure (2, 1, 0, 1): sum_ij |x_i - x_j| = 12, 2 n^2 mean = 32.
    assert mad_gini([2, 1, 0, 1]) == pytest.approx(0.375)
    assert r.gini == pytest.approx(0.375)
    assert r.new_item_share == pytest.approx(1 / 4)  # item 3, released 3 days before
    assert r.tail_share == pytest.approx(2 / 4)  # items 1 and 3
    assert (r.n_exploration, r.n_dislikes_exploration) == (1, 1)
    assert r.dislikes_per_1000_exploration == pytest.approx(1000.0)
    assert (r.n_exploitation, r.n_dislikes_exploitation) == (3, 0)
    assert r.dislikes_per_1000_exploitation == 0.0


def test_an_item_released_mid_run_joins_the_catalogue_on_its_day() -> None:
    r = _day("a", 1)
    # Released by day 1: all five; shown 0, 4, 4, 2: exposure (1, 0, 1, 0, 2).
    assert (r.n_impressions, r.coverage, r.n_items) == (4, 3, 5)
    assert r.coverage_share == pytest.approx(3 / 5)
    assert mad_gini([1, 0, 1, 0, 2]) == pytest.approx(0.5)  # 20 / (2 * 25 * 0.8)
    assert r.gini == pytest.approx(0.5)
    assert r.new_item_share == pytest.approx(2 / 4)  # item 4 on its release day
    assert r.tail_share == pytest.approx(3 / 4)  # a new item is tail
    # pscore 0.02 is exploration; 0.95, 0.1 and 0.6 are exploitation.
    assert (r.n_exploration, r.n_dislikes_exploration) == (1, 1)
    assert (r.n_exploitation, r.n_dislikes_exploitation) == (3, 1)
    assert r.dislikes_per_1000_exploitation == pytest.approx(1000 / 3)


@pytest.mark.parametrize(("arm", "day"), [("a", 2), ("b", 0), ("b", 1)])
def test_a_day_without_impressions_has_zero_coverage_and_no_rates(arm: str, day: int) -> None:
    r = _day(arm, day)
    assert (r.n_impressions, r.coverage, r.coverage_share) == (0, 0, 0.0)
    assert (r.n_exploration, r.n_exploitation) == (0, 0)
    for name in ("gini", "new_item_share", "tail_share", "dislikes_per_1000_exploration"):
        assert math.isnan(getattr(r, name)), name
    assert math.isnan(r.dislikes_per_1000_exploitation)


def test_arm_summary_by_hand() -> None:
    a, b = arm_exposure(EVENTS, RELEASE, HEAD, CONFIG)
    assert (a.arm, a.n_days, a.n_impressions) == ("a", 3, 8)
    assert a.mean_coverage == pytest.approx(2.0)  # (3 + 3 + 0) / 3: the empty day counts
    assert a.min_coverage == 0
    assert a.mean_coverage_share == pytest.approx((3 / 4 + 3 / 5 + 0) / 3)
    # Days 0-2 pooled over the catalogue released by day 2: exposure (3, 1, 1, 1, 2).
    assert (a.coverage, a.n_items) == (5, 5)
    assert a.gini == pytest.approx(mad_gini([3, 1, 1, 1, 2]))
    assert a.new_item_share == pytest.approx(3 / 8)
    assert a.tail_share == pytest.approx(5 / 8)
    assert (a.n_exploration, a.n_dislikes_exploration) == (2, 2)
    assert (a.n_exploitation, a.n_dislikes_exploitation) == (6, 1)
    assert a.dislikes_per_1000_exploitation == pytest.approx(1000 / 6)
    assert (b.n_impressions, b.mean_coverage, b.min_coverage) == (1, pytest.approx(1 / 3), 0)
    assert b.gini == pytest.approx(mad_gini([0, 0, 0, 0, 1]))  # 0.8: one item of five
    assert (b.n_exploration, b.n_exploitation, b.n_dislikes_exploration) == (1, 0, 1)
    assert math.isnan(b.dislikes_per_1000_exploitation)


def test_an_item_stops_being_new_after_new_item_days() -> None:
    short = ExposureConfig(start_day=0, end_day=3, new_item_days=3)
    (r,) = [r for r in daily_exposure(EVENTS, RELEASE, HEAD, short) if (r.arm, r.day) == ("a", 0)]
    assert r.new_item_share == 0.0  # item 3 is 3 days old on day 0: no longer new


def test_the_threshold_moves_the_split() -> None:
    loose = ExposureConfig(start_day=0, end_day=3, exploration_pscore=0.5)
    (a, _) = arm_exposure(EVENTS, RELEASE, HEAD, loose)
    assert (a.n_exploration, a.n_exploitation) == (3, 5)  # 0.05, 0.1, 0.02 below 0.5


def test_head_items_takes_the_ceiling_and_breaks_ties_by_id() -> None:
    log = pd.DataFrame({"item_id": [7, 7, 5, 5, 9, 2, 3, 4, 6, 8, 1]})
    # 9 items shown: ceil(0.2 * 9) = 2; 5 and 7 tie at 2 plays, 5 first.
    assert head_items(log).tolist() == [5, 7]
    assert head_items(log, 0.5).tolist() == [5, 7, 1, 2, 3]
    assert head_items(log.iloc[:0]).tolist() == []


def test_release_days_orders_by_item_id() -> None:
    items = pd.DataFrame({"item_id": [2, 0, 1], "release_day": [5, -1, 0]})
    assert release_days(items).tolist() == [-1, 0, 5]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ExposureConfig(start_day=3, end_day=3), r"end_day == 3, must be > start_day"),
        (lambda: ExposureConfig(0, 3, new_item_days=0), r"new_item_days == 0, must be >= 1"),
        (lambda: ExposureConfig(0, 3, exploration_pscore=0.0), r"exploration_pscore == 0.0"),
        (lambda: head_items(EVENTS, 1.0), r"head_share == 1.0, must be in \(0, 1\)"),
        (
            lambda: release_days(pd.DataFrame({"item_id": [0, 2], "release_day": [0, 0]})),
            r"item_id must be 0 \.\. 1, each once",
        ),
        (
            lambda: daily_exposure(EVENTS.assign(day=0), RELEASE, HEAD, CONFIG),
            r"item_id 4 is shown on day 0, before its release_day 1",
        ),
        (
            lambda: daily_exposure(EVENTS, RELEASE[:4], HEAD, CONFIG),
            r"item_id 4 is outside the catalogue of 4 items",
        ),
        (
            lambda: daily_exposure(EVENTS.assign(pscore=np.nan), RELEASE, HEAD, CONFIG),
            r"pscore has missing values",
        ),
        (
            lambda: arm_exposure(EVENTS.drop(columns=["pscore"]), RELEASE, HEAD, CONFIG),
            r"missing columns",
        ),
    ],
)
def test_invalid_input(call: Any, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        call()
