"""Offline ranking metrics: AUC, UAUC, RelaImpr, log loss, calibration, cohort splits.

These are the metrics of the paper's offline tables (AUC, UAUC, RelaImpr) plus log loss and
calibration. Everything is numpy; the functions take label and score arrays, so they work on
any log, simulated or real.

References:
    Hanley & McNeil (1982), "The meaning and use of the area under a ROC curve".
    Yan et al. (2014), "Coupled group lasso for web-scale CTR prediction" (RelaImpr).
    Zhu et al. (2017), "Optimized cost per click in Taobao display advertising" (GAUC/UAUC).
    Naeini, Cooper & Hauskrecht (2015), "Obtaining well calibrated probabilities using
    Bayesian binning" (expected calibration error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError, InsufficientDataError


def _labels_scores(y_true: ArrayLike, y_score: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise AnalysisError(
            f"y_true has {y.size} values and y_score {s.size}, must have the same length"
        )
    if y.size and not np.all((y == 0.0) | (y == 1.0)):
        raise AnalysisError("y_true has values other than 0 and 1, must be binary")
    if not np.all(np.isfinite(s)):
        raise AnalysisError("y_score has NaN or infinite values, must be finite")
    return y, s


def _midranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks where tied values share the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    # Start of each run of equal values in the sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    ends = np.r_[starts[1:], values.size]
    run_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve, ties counted one half (as scikit-learn does).

    Mann-Whitney form: ``AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` with
    ``R_pos`` the sum of the positives' midranks among all scores. This equals the
    trapezoidal area under the ROC curve that ``sklearn.metrics.roc_auc_score`` computes.

    Args:
        y_true: Binary labels (0/1), shape ``(n,)``.
        y_score: Scores, higher means more likely positive, shape ``(n,)``.

    Returns:
        The AUC in [0, 1].

    Raises:
        InsufficientDataError: If only one label class is present.

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    y, s = _labels_scores(y_true, y_score)
    n_pos = float(y.sum())
    n_neg = float(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise InsufficientDataError(
            f"y_true has {int(n_pos)} positives and {int(n_neg)} negatives, AUC needs both classes"
        )
    ranks = _midranks(s)
    r_pos = float(ranks[y == 1.0].sum())
    return (r_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)


@dataclass(frozen=True)
class UAUCResult:
    """User-averaged AUC.

    Attributes:
        uauc: ``sum_u n_u AUC_u / sum_u n_u`` over users with both label classes.
        n_users: Users that entered the average.
        n_users_skipped: Users left out because all their labels were equal.
        n_samples: Samples of the users that entered the average.
    """

    uauc: float
    n_users: int
    n_users_skipped: int
    n_samples: int


def uauc(y_true: ArrayLike, y_score: ArrayLike, user_ids: ArrayLike) -> UAUCResult:
    """User-level AUC weighted by each user's sample count (the paper's UAUC).

    ``UAUC = sum_u n_u AUC_u / sum_u n_u``, over users that have both a positive and a
    negative sample; users with one label class have no AUC and are left out (counted in
    ``n_users_skipped``).

    Raises:
        InsufficientDataError: If no user has both label classes.
    """
    y, s = _labels_scores(y_true, y_score)
    users = np.asarray(user_ids).ravel()
    if users.shape != y.shape:
        raise AnalysisError(
            f"user_ids has {users.size} values and y_true {y.size}, must have the same length"
        )
    order = np.argsort(users, kind="mergesort")
    u_sorted = users[order]
    starts = np.flatnonzero(np.r_[True, u_sorted[1:] != u_sorted[:-1]])
    ends = np.r_[starts[1:], users.size]
    total, weight, n_used = 0.0, 0, 0
    for a, b in zip(starts, ends, strict=True):
        idx = order[a:b]
        y_u = y[idx]
        n_pos = y_u.sum()
        if n_pos == 0 or n_pos == y_u.size:
            continue
        total += y_u.size * roc_auc(y_u, s[idx])
        weight += y_u.size
        n_used += 1
    n_skipped = starts.size - n_used
    if n_used == 0:
        raise InsufficientDataError(
            f"all {starts.size} users have a single label class, UAUC needs at least one "
            "user with both"
        )
    return UAUCResult(total / weight, n_used, n_skipped, weight)


def rela_impr(auc_model: float, auc_base: float) -> float:
    """Relative improvement over a base model (Yan et al. 2014).

    ``RelaImpr = (AUC_model - 0.5) / (AUC_base - 0.5) - 1``; a random guesser has AUC 0.5,
    so this measures the gain over the base model's gain over random.

    Example:
        >>> round(rela_impr(0.76, 0.75), 6)
        0.04
    """
    if not auc_base > 0.5:
        raise AnalysisError(f"auc_base == {auc_base}, must be > 0.5 for RelaImpr")
    return (auc_model - 0.5) / (auc_base - 0.5) - 1.0


def log_loss(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Mean binary cross-entropy ``-mean(y log p + (1 - y) log(1 - p))``.

    Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps`` the float64 machine
    epsilon, as scikit-learn's ``log_loss`` does.
    """
    y, p = _labels_scores(y_true, y_prob)
    if y.size == 0:
        raise InsufficientDataError("y_true is empty, log loss needs at least one sample")
    if np.any((p < 0.0) | (p > 1.0)):
        raise AnalysisError("y_prob has values outside [0, 1], must be probabilities")
    eps = np.finfo(np.float64).eps
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


@dataclass(frozen=True)
class CalibrationResult:
    """Reliability bins and expected calibration error.

    Attributes:
        ece: ``sum_b (n_b / n) |mean(y)_b - mean(p)_b|`` over non-empty bins.
        bin_edges: ``(n_bins + 1,)`` equal-width edges on [0, 1].
        bin_counts: ``(n_bins,)`` samples per bin.
        mean_predicted: ``(n_bins,)`` mean probability per bin (NaN where empty).
        observed_rate: ``(n_bins,)`` positive rate per bin (NaN where empty).
    """

    ece: float
    bin_edges: NDArray[np.float64]
    bin_counts: NDArray[np.int64]
    mean_predicted: NDArray[np.float64]
    observed_rate: NDArray[np.float64]


def calibration(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> CalibrationResult:
    """Reliability diagram data and the expected calibration error (Naeini et al. 2015).

    Bins are equal-width on [0, 1]; a probability equal to an inner edge goes to the upper
    bin, 1.0 to the last bin.
    """
    if n_bins < 1:
        raise AnalysisError(f"n_bins == {n_bins}, must be >= 1")
    y, p = _labels_scores(y_true, y_prob)
    if y.size == 0:
        raise InsufficientDataError("y_true is empty, calibration needs at least one sample")
    if np.any((p < 0.0) | (p > 1.0)):
        raise AnalysisError("y_prob has values outside [0, 1], must be probabilities")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins).astype(np.int64)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_y = np.bincount(which, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(counts > 0, sum_p / counts, np.nan)
        rate = np.where(counts > 0, sum_y / counts, np.nan)
    nonempty = counts > 0
    ece = float(np.sum(counts[nonempty] / y.size * np.abs(rate[nonempty] - mean_p[nonempty])))
    return CalibrationResult(ece, edges, counts, mean_p, rate)


@dataclass(frozen=True)
class OfflineMetrics:
    """The offline metrics of one model on one sample set.

    Attributes:
        n_samples: Samples evaluated.
        n_positives: Positive labels among them.
        auc: ROC AUC (NaN if one label class only).
        uauc: Sample-weighted per-user AUC (NaN if no user has both classes).
        n_users_uauc: Users in the UAUC average.
        n_users_skipped: Users left out of UAUC (single label class).
        log_loss: Mean binary cross-entropy.
        ece: Expected calibration error with 10 equal-width bins.
    """

    n_samples: int
    n_positives: int
    auc: float
    uauc: float
    n_users_uauc: int
    n_users_skipped: int
    log_loss: float
    ece: float

    def to_dict(self) -> dict[str, float | int]:
        """Field name -> value."""
        return asdict(self)


def evaluate(y_true: ArrayLike, y_prob: ArrayLike, user_ids: ArrayLike) -> OfflineMetrics:
    """All offline metrics at once; metrics undefined on this sample are NaN, not errors."""
    y, p = _labels_scores(y_true, y_prob)
    users = np.asarray(user_ids).ravel()
    if y.size == 0:
        nan = float("nan")
        return OfflineMetrics(0, 0, nan, nan, 0, 0, nan, nan)
    try:
        auc = roc_auc(y, p)
    except InsufficientDataError:
        auc = float("nan")
    try:
        u = uauc(y, p, users)
        uauc_value, n_used, n_skipped = u.uauc, u.n_users, u.n_users_skipped
    except InsufficientDataError:
        uauc_value, n_used, n_skipped = float("nan"), 0, int(np.unique(users).size)
    return OfflineMetrics(
        n_samples=int(y.size),
        n_positives=int(y.sum()),
        auc=auc,
        uauc=uauc_value,
        n_users_uauc=n_used,
        n_users_skipped=n_skipped,
        log_loss=log_loss(y, p),
        ece=calibration(y, p).ece,
    )


def head_items(item_ids: ArrayLike, head_share: float = 0.8) -> NDArray[np.int64]:
    """The most frequent items that together make ``head_share`` of the samples.

    Items are sorted by sample count (ties by id); the head is the shortest prefix whose
    counts reach ``head_share`` of the total. Pass the *training* items so that the
    head/tail split of the test set does not look at test popularity.
    """
    if not 0.0 < head_share <= 1.0:
        raise AnalysisError(f"head_share == {head_share}, must be in (0, 1]")
    items = np.asarray(item_ids).ravel().astype(np.int64)
    if items.size == 0:
        raise InsufficientDataError("item_ids is empty, cannot define head items")
    uniq, counts = np.unique(items, return_counts=True)
    order = np.lexsort((uniq, -counts))
    cum = np.cumsum(counts[order])
    n_head = int(np.searchsorted(cum, head_share * items.size, side="left")) + 1
    return np.sort(uniq[order[:n_head]])


def evaluate_cohorts(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    user_ids: ArrayLike,
    cohorts: Mapping[str, ArrayLike],
) -> dict[str, OfflineMetrics]:
    """:func:`evaluate` on each cohort, e.g. new/old users and head/tail items.

    Args:
        y_true: Binary labels ``(n,)``.
        y_prob: Predicted probabilities ``(n,)``.
        user_ids: ``(n,)`` user of each sample (for UAUC).
        cohorts: Name -> boolean mask ``(n,)``; the key ``"all"`` is added.
    """
    y, p = _labels_scores(y_true, y_prob)
    users = np.asarray(user_ids).ravel()
    out = {"all": evaluate(y, p, users)}
    for name, mask_like in cohorts.items():
        mask = np.asarray(mask_like, dtype=bool).ravel()
        if mask.shape != y.shape:
            raise AnalysisError(
                f"cohorts[{name!r}] has {mask.size} values, must have one per sample ({y.size})"
            )
        out[name] = evaluate(y[mask], p[mask], users[mask])
    return out


__all__ = [
    "CalibrationResult",
    "OfflineMetrics",
    "UAUCResult",
    "calibration",
    "evaluate",
    "evaluate_cohorts",
    "head_items",
    "log_loss",
    "rela_impr",
    "roc_auc",
    "uauc",
]
