"""Input checks shared by the OPE estimators: each error names the argument, its value, the rule.

Checks are vectorised (one reduction per rule) because they run on every call and the logs
hold millions of rounds; the message reports the first offending index so the user can find
the row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError

#: Tolerance for "sums to one" checks on probability vectors.
SUM_TOLERANCE = 1e-6


def first_index(mask: NDArray[np.bool_]) -> tuple[int, ...]:
    """Index (as a tuple) of the first True entry of ``mask``."""
    flat = int(np.argmax(mask.ravel()))
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def fmt_index(index: tuple[int, ...]) -> str:
    """``(3, 0)`` -> ``"[3, 0]"``, for messages."""
    return "[" + ", ".join(str(i) for i in index) + "]"


def as_float_array(value: Any, name: str, ndim: int) -> NDArray[np.float64]:
    """``value`` as a float64 array with ``ndim`` dimensions and finite entries."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(
            f"{name} must be an array of numbers, got {type(value).__name__}"
        ) from exc
    if arr.ndim != ndim:
        raise AnalysisError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    # Fast path: a finite sum means every entry is finite (one pass, no boolean array);
    # only a non-finite sum (a NaN, an inf, or an overflow) pays for the elementwise check.
    if np.isfinite(arr.sum()):
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = first_index(bad)
        raise AnalysisError(
            f"{name}{fmt_index(idx)} == {arr[idx]}, must be finite "
            f"({int(bad.sum())} NaN or infinite entries)"
        )
    return arr


def as_int_array(value: Any, name: str) -> NDArray[np.int64]:
    """``value`` as a one-dimensional int64 array (floats with integral values are accepted)."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise AnalysisError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise AnalysisError(f"{name} must hold integers, got dtype {arr.dtype}")


def check_length(arr: NDArray[Any], name: str, n_rounds: int, reference: str) -> None:
    """``arr.shape[0] == n_rounds`` or an error that names both arguments."""
    if arr.shape[0] != n_rounds:
        raise AnalysisError(
            f"{name} has {arr.shape[0]} rounds but {reference} has {n_rounds}; "
            "shapes must agree on n_rounds"
        )


def check_pscore(pscore: NDArray[np.float64], name: str = "pscore") -> None:
    """Propensities must lie in (0, 1]: zero makes the importance weight undefined."""
    bad = ~((pscore > 0.0) & (pscore <= 1.0))
    if bad.any():
        idx = first_index(bad)
        raise AnalysisError(
            f"{name}{fmt_index(idx)} == {pscore[idx]}, must be in (0, 1] "
            "(the logging policy's probability of the logged action)"
        )


def check_probabilities(
    probs: NDArray[np.float64], name: str, axis: int, what: str = "actions"
) -> None:
    """Entries in [0, 1] and sums over ``axis`` equal to one within ``SUM_TOLERANCE``."""
    if probs.size == 0:
        return
    low = float(probs.min())
    if low < 0.0:
        idx = first_index(probs < 0.0)
        raise AnalysisError(f"{name}{fmt_index(idx)} == {probs[idx]}, must be >= 0")
    sums = probs.sum(axis=axis)
    bad = np.abs(sums - 1.0) > SUM_TOLERANCE
    if bad.any():
        idx = first_index(bad)
        where = list(idx)
        where.insert(axis, -1)
        shown = ", ".join(":" if i == -1 else str(i) for i in where)
        raise AnalysisError(
            f"{name} must sum to 1 over {what}: {name}[{shown}].sum() == {sums[idx]:.6g} "
            f"({int(bad.sum())} such rows)"
        )


def check_range(arr: NDArray[np.int64], name: str, low: int, high: int) -> None:
    """Integer entries in ``[low, high)``."""
    if arr.size == 0:
        return
    bad = (arr < low) | (arr >= high)
    if bad.any():
        idx = first_index(bad)
        raise AnalysisError(f"{name}{fmt_index(idx)} == {arr[idx]}, must be in [{low}, {high})")


def check_alpha(alpha: float) -> None:
    """Significance level in (0, 1)."""
    if not 0.0 < alpha < 1.0:
        raise AnalysisError(f"alpha == {alpha}, must be in (0, 1)")


def check_positive_int(value: int, name: str) -> None:
    """An integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise AnalysisError(f"{name} == {value!r}, must be an integer >= 1")


def check_weight_bound(value: float, name: str) -> None:
    """A clipping or switching threshold: a number >= 0 (``inf`` switches it off)."""
    if not isinstance(value, int | float | np.floating | np.integer) or not value >= 0.0:
        raise AnalysisError(f"{name} == {value!r}, must be a number >= 0 (inf for none)")
