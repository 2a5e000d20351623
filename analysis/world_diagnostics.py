"""Statistics of a logged world that say whether it has the paper's premise.

The paper (AdaF²M², section 1) argues from four properties of real logs: a long tail, ID
features that are most informative for head users and items, cold start that needs meta
features, and noisy feedback. ``adasim diagnose`` measures them on a simulated log; the
pure statistics live here so that they work on any log with the documented columns:

* :func:`samples_per_user` and :func:`median_samples`: how much of each user's past a log
  holds (users with at least one sample only);
* :func:`noise_episode_lengths`: lengths of the runs of consecutive noisy skips within a
  session (ordered by ``session_id`` then ``step``): a distraction that skips a few songs
  in a row makes one run, independent noise mostly runs of length 1;
* :func:`warm_user_ids` and :func:`cohort_masks`: the test cohorts, defined from the
  *training* split only (head items: :func:`analysis.offline.head_items`; warm users: at
  least ``min_samples`` training samples), so a cohort never looks at test data;
* :func:`cohort_auc`: the AUC on each cohort, NaN where a cohort has one label class.

Every function takes arrays, so it runs on a real log as well as on a simulated one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError, InsufficientDataError
from analysis.offline import head_items, roc_auc

COHORTS: tuple[str, ...] = (
    "all",
    "head_items",
    "tail_items",
    "warm_users",
    "cold_users",
    "new_users",
    "old_users",
)
"""Cohort names of :func:`cohort_masks`, in the order reports list them."""


def _ids(values: ArrayLike, name: str) -> NDArray[np.int64]:
    ids = np.asarray(values).ravel()
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
        raise AnalysisError(f"{name} must be non-negative integers")
    return ids.astype(np.int64, copy=False)


def samples_per_user(user_ids: ArrayLike, n_users: int | None = None) -> NDArray[np.int64]:
    """``(n_users,)`` samples of each user id (index = user id; absent users count 0).

    Example:
        >>> samples_per_user([0, 2, 2, 2], n_users=4).tolist()
        [1, 0, 3, 0]
    """
    users = _ids(user_ids, "user_ids")
    size = int(users.max()) + 1 if users.size else 0
    if n_users is not None:
        if n_users < size:
            raise AnalysisError(f"n_users == {n_users}, but user_ids holds id {size - 1}")
        size = n_users
    return np.bincount(users, minlength=size).astype(np.int64)


def median_samples(user_ids: ArrayLike, is_new_user: ArrayLike) -> tuple[float, float]:
    """Median samples per user for old and for new users, over users with a sample.

    Args:
        user_ids: ``(n,)`` user of each sample.
        is_new_user: ``(n_users,)`` bool indexed by user id: the user is new (e.g.
            registered at most ``new_user_days`` before day 0).

    Returns:
        ``(median over old users, median over new users)``; NaN for a group without a
        user that has a sample.

    Example:
        >>> median_samples([0, 0, 0, 1, 2, 2], [False, True, False])
        (2.5, 1.0)
    """
    new = np.asarray(is_new_user, dtype=bool).ravel()
    counts = samples_per_user(user_ids, new.size)
    active = counts > 0

    def median(mask: NDArray[np.bool_]) -> float:
        c = counts[mask & active]
        return float(np.median(c)) if c.size else float("nan")

    return median(~new), median(new)


def noise_episode_lengths(
    session_ids: ArrayLike, steps: ArrayLike, noise_skip: ArrayLike
) -> NDArray[np.int64]:
    """Lengths of the runs of consecutive noisy skips within each session.

    Rows are ordered by ``(session_id, step)``; a run is a maximal block of consecutive
    rows of one session with ``noise_skip`` true. A run never crosses a session boundary,
    and a row with ``noise_skip`` false ends it.

    Args:
        session_ids: ``(n,)`` session of each row.
        steps: ``(n,)`` position of the row within its session.
        noise_skip: ``(n,)`` the row was a noisy skip (ground truth).

    Returns:
        ``(n_runs,)`` run lengths, in session order; their sum is the number of noisy rows.

    Example:
        >>> noise_episode_lengths([1, 1, 1, 2, 2], [0, 1, 2, 0, 1],
        ...                       [True, True, False, True, True]).tolist()
        [2, 2]
    """
    session = np.asarray(session_ids).ravel()
    step = np.asarray(steps).ravel()
    noise = np.asarray(noise_skip, dtype=bool).ravel()
    if not session.shape == step.shape == noise.shape:
        raise AnalysisError(
            f"session_ids, steps and noise_skip have {session.size}, {step.size} and "
            f"{noise.size} values, must have the same length"
        )
    order = np.lexsort((step, session))
    s, x = session[order], noise[order]
    # A run starts at a noisy row whose predecessor is clean or in another session.
    prev_same = np.r_[False, s[1:] == s[:-1]]
    prev_noise = np.r_[False, x[:-1]]
    starts = np.flatnonzero(x & ~(prev_same & prev_noise))
    # Likewise a run ends at a noisy row whose successor is clean or in another session.
    next_same = np.r_[s[1:] == s[:-1], False]
    next_noise = np.r_[x[1:], False]
    ends = np.flatnonzero(x & ~(next_same & next_noise))
    return (ends - starts + 1).astype(np.int64)


def warm_user_ids(train_user_ids: ArrayLike, min_samples: int) -> NDArray[np.int64]:
    """Users with at least ``min_samples`` training samples (sorted ids): the warm users.

    Example:
        >>> warm_user_ids([3, 3, 1, 3, 1, 0], 2).tolist()
        [1, 3]
    """
    if min_samples < 1:
        raise AnalysisError(f"min_samples == {min_samples}, must be >= 1")
    counts = samples_per_user(train_user_ids)
    return np.flatnonzero(counts >= min_samples).astype(np.int64)


def cohort_masks(
    test_user_ids: ArrayLike,
    test_item_ids: ArrayLike,
    test_new_user: ArrayLike,
    train_user_ids: ArrayLike,
    train_item_ids: ArrayLike,
    *,
    head_share: float = 0.8,
    warm_min_samples: int = 10,
) -> dict[str, NDArray[np.bool_]]:
    """Boolean masks over the test samples for every cohort of :data:`COHORTS`.

    * ``head_items``: the item is among the most frequent *training* items that together
      make ``head_share`` of the training samples (:func:`analysis.offline.head_items`);
      ``tail_items`` the rest (unseen items included);
    * ``warm_users``: the user has at least ``warm_min_samples`` training samples;
      ``cold_users`` the rest (users new to the test window included);
    * ``new_users`` / ``old_users``: the sample-level flag of the loader (the event
      happened within the first days after the user registered, or later).

    Args:
        test_user_ids: ``(n,)`` user of each test sample.
        test_item_ids: ``(n,)`` item of each test sample.
        test_new_user: ``(n,)`` bool, the user was new when the sample was logged.
        train_user_ids: Users of the training samples.
        train_item_ids: Items of the training samples.
        head_share: Share of the training samples the head items make.
        warm_min_samples: Training samples that make a user warm.
    """
    users = _ids(test_user_ids, "test_user_ids")
    items = _ids(test_item_ids, "test_item_ids")
    new = np.asarray(test_new_user, dtype=bool).ravel()
    if not users.shape == items.shape == new.shape:
        raise AnalysisError(
            f"test_user_ids, test_item_ids and test_new_user have {users.size}, "
            f"{items.size} and {new.size} values, must have the same length"
        )
    head = np.isin(items, head_items(train_item_ids, head_share))
    warm = np.isin(users, warm_user_ids(train_user_ids, warm_min_samples))
    return {
        "all": np.ones(users.size, dtype=bool),
        "head_items": head,
        "tail_items": ~head,
        "warm_users": warm,
        "cold_users": ~warm,
        "new_users": new,
        "old_users": ~new,
    }


def cohort_auc(
    y_true: ArrayLike, y_score: ArrayLike, masks: Mapping[str, ArrayLike]
) -> dict[str, float]:
    """ROC AUC of the samples of each cohort; NaN where a cohort lacks a label class.

    Args:
        y_true: ``(n,)`` binary labels.
        y_score: ``(n,)`` scores (any monotone transform gives the same AUC).
        masks: Cohort name -> ``(n,)`` boolean mask, e.g. from :func:`cohort_masks`.

    Example:
        >>> cohort_auc([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.2],
        ...            {"all": [True] * 4, "first": [True, True, False, False]})
        {'all': 0.75, 'first': 1.0}
    """
    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    out: dict[str, float] = {}
    for name, mask_like in masks.items():
        mask = np.asarray(mask_like, dtype=bool).ravel()
        if mask.shape != y.shape:
            raise AnalysisError(
                f"masks[{name!r}] has {mask.size} values, must have one per sample ({y.size})"
            )
        try:
            out[name] = roc_auc(y[mask], s[mask])
        except InsufficientDataError:
            out[name] = float("nan")
    return out


__all__ = [
    "COHORTS",
    "cohort_auc",
    "cohort_masks",
    "median_samples",
    "noise_episode_lengths",
    "samples_per_user",
    "warm_user_ids",
]
