"""The mean of a small sample with its Student-t interval (replicates, seeds, paired runs).

For ``n`` values with mean ``m`` and standard deviation ``s`` (``ddof = 1``), the interval
at ``level`` is ``m +- t_{n-1}((1 + level) / 2) s / sqrt(n)``; with fewer than two values
``s`` and the interval are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


@dataclass(frozen=True)
class MeanInterval:
    """``n``, ``mean``, ``sd`` and the Student-t interval ``[lower, upper]`` of a sample."""

    n: int
    mean: float
    sd: float
    lower: float
    upper: float


def mean_interval(values: ArrayLike, level: float = 0.95) -> MeanInterval:
    """The mean of ``values`` with its Student-t interval at ``level``.

    Example:
        >>> r = mean_interval([1.0, 2.0, 3.0], level=0.95)
        >>> round(r.mean, 3), round(r.sd, 3), round(r.lower, 3), round(r.upper, 3)
        (2.0, 1.0, -0.484, 4.484)
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return MeanInterval(n, mean, math.nan, math.nan, math.nan)
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return MeanInterval(n, mean, sd, mean - half, mean + half)


__all__ = ["MeanInterval", "mean_interval"]
