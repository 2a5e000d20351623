"""Tests for analysis.world_diagnostics: hand-made logs with known answers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from analysis.errors import AnalysisError
from analysis.world_diagnostics import (
    COHORTS,
    cohort_auc,
    cohort_masks,
    median_samples,
    noise_episode_lengths,
    samples_per_user,
    warm_user_ids,
)


def test_median_samples_counts_only_users_with_a_sample() -> None:
    # Old users 0, 2, 4 with 3, 1 and 0 samples; new users 1, 3 with 2 and 6 samples.
    users = [0, 0, 0, 2, 1, 1] + [3] * 6
    new = [False, True, False, True, False]
    old_median, new_median = median_samples(users, new)
    assert old_median == 2.0  # median of {3, 1}: user 4 has no sample and is left out
    assert new_median == 4.0  # median of {2, 6}
    assert samples_per_user(users, 5).tolist() == [3, 2, 1, 6, 0]


def test_median_samples_is_nan_for_a_group_without_active_users() -> None:
    old_median, new_median = median_samples([0, 0, 1], [False, False, True])
    assert old_median == 1.5
    assert math.isnan(new_median)


def test_episode_lengths_of_a_shuffled_log() -> None:
    # session 5: steps 0..4 noisy N N . N N -> runs 2, 2; session 6: N -> 1;
    # session 7: N N N (the run of session 6 does not continue into it) -> 3.
    rows = [
        (5, 0, True),
        (5, 1, True),
        (5, 2, False),
        (5, 3, True),
        (5, 4, True),
        (6, 0, True),
        (7, 0, True),
        (7, 1, True),
        (7, 2, True),
        (8, 0, False),
    ]
    perm = np.random.default_rng(0).permutation(len(rows))
    session, step, noise = (np.array(c)[perm] for c in zip(*rows, strict=True))
    lengths = noise_episode_lengths(session, step, noise)
    assert lengths.tolist() == [2, 2, 1, 3]
    assert lengths.mean() == 2.0


def test_episode_lengths_of_an_empty_or_clean_log() -> None:
    assert noise_episode_lengths([], [], []).size == 0
    assert noise_episode_lengths([1, 1], [0, 1], [False, False]).size == 0


def _runs_by_loop(session: list[int], step: list[int], noise: list[bool]) -> list[int]:
    """An independent implementation: walk each session's steps in order."""
    out: list[int] = []
    for s in sorted(set(session)):
        flags = [
            n
            for _, n in sorted(
                (t, n) for ss, t, n in zip(session, step, noise, strict=True) if ss == s
            )
        ]
        run = 0
        for f in flags:
            if f:
                run += 1
            elif run:
                out.append(run)
                run = 0
        if run:
            out.append(run)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=0, max_size=40),
    st.randoms(use_true_random=False),
)
def test_episode_lengths_match_a_loop(rows: list[tuple[int, bool]], rnd: Any) -> None:
    session = [s for s, _ in rows]
    noise = [n for _, n in rows]
    seen: dict[int, int] = {}
    step = []
    for s in session:  # steps 0, 1, ... per session, then the rows shuffled
        step.append(seen.get(s, 0))
        seen[s] = step[-1] + 1
    order = list(range(len(rows)))
    rnd.shuffle(order)
    got = noise_episode_lengths(
        np.array([session[i] for i in order], dtype=np.int64),
        np.array([step[i] for i in order], dtype=np.int64),
        np.array([noise[i] for i in order], dtype=bool),
    )
    assert got.tolist() == _runs_by_loop(session, step, noise)
    assert int(got.sum()) == sum(noise)


def test_warm_users_and_cohort_masks() -> None:
    # Training: item 0 makes 8 of 10 samples (the head at head_share 0.8); user 1 has 6
    # training samples, user 2 has 4, user 3 none.
    train_users = [1] * 6 + [2] * 4
    train_items = [0] * 8 + [1, 2]
    assert warm_user_ids(train_users, 5).tolist() == [1]
    masks = cohort_masks(
        test_user_ids=[1, 2, 3, 1],
        test_item_ids=[0, 1, 0, 9],
        test_new_user=[False, False, True, False],
        train_user_ids=train_users,
        train_item_ids=train_items,
        head_share=0.8,
        warm_min_samples=5,
    )
    assert tuple(masks) == COHORTS
    assert masks["head_items"].tolist() == [True, False, True, False]
    assert masks["tail_items"].tolist() == [False, True, False, True]
    assert masks["warm_users"].tolist() == [True, False, False, True]
    assert masks["cold_users"].tolist() == [False, True, True, False]
    assert masks["new_users"].tolist() == [False, False, True, False]
    assert masks["old_users"].tolist() == [True, True, False, True]
    assert masks["all"].all()


def test_cohort_auc_against_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(200) < 0.4
    s = rng.random(200) + 0.3 * y
    head = rng.random(200) < 0.5
    out = cohort_auc(y, s, {"all": np.ones(200, bool), "head": head, "none": np.zeros(200, bool)})
    assert out["all"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert out["head"] == pytest.approx(roc_auc_score(y[head], s[head]), abs=1e-12)
    assert math.isnan(out["none"])  # an empty cohort has no AUC, and is no error


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: warm_user_ids([0, 1], 0), r"min_samples == 0, must be >= 1"),
        (lambda: samples_per_user([0, 5], 3), r"n_users == 3, but user_ids holds id 5"),
        (lambda: samples_per_user([-1, 2]), r"user_ids must be non-negative integers"),
        (lambda: noise_episode_lengths([1, 2], [0], [True, True]), r"same length"),
        (lambda: cohort_auc([0, 1], [0.1, 0.2], {"a": [True]}), r"masks\['a'\] has 1 values"),
        (
            lambda: cohort_masks([1], [1, 2], [False], [1], [1]),
            r"test_user_ids, test_item_ids and test_new_user have 1, 2 and 1 values",
        ),
    ],
)
def test_invalid_input(call: Any, pattern: str) -> None:
    with pytest.raises(AnalysisError, match=pattern):
        call()
