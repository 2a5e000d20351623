"""Sufficient statistics of a sample of per-user vectors: count, means, covariance matrix.

Every A/B statistic here (Welch, the delta method for ratios, CUPED) is a function of the
first two moments of each arm, as in tea-tasting's ``aggr.Aggregates``. Keeping them as
arrays with leading dimensions lets the same code analyse one experiment, a stack of
segments, or thousands of A/A re-randomisations at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Moments:
    """Count, mean vector and sample covariance (``ddof=1``) of ``m`` per-user columns.

    Attributes:
        count: Number of users, shape ``(...)``.
        mean: Column means, shape ``(..., m)``.
        cov: Sample covariance matrix with divisor ``count - 1``, shape ``(..., m, m)``.
    """

    count: FloatArray
    mean: FloatArray
    cov: FloatArray

    @classmethod
    def from_values(cls, values: NDArray[np.floating]) -> Moments:
        """Moments of the rows of a ``(n, m)`` array (two-pass, numerically stable).

        Args:
            values: One row per user, one column per variable.

        Returns:
            Moments with scalar leading shape ``()``.
        """
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2:
            raise AnalysisError(f"values.ndim == {x.ndim}, must be 2 (users x columns)")
        n = x.shape[0]
        mean = x.mean(axis=0) if n else np.full(x.shape[1], np.nan)
        centred = x - mean
        denom = n - 1 if n > 1 else np.nan
        cov = (centred.T @ centred) / denom
        return cls(np.asarray(float(n)), mean, cov)

    @classmethod
    def from_sums(cls, count: FloatArray, sums: FloatArray, cross: FloatArray) -> Moments:
        """Moments from the count, column sums and cross-product sums ``X^T X``.

        Suitable for many samples at once (e.g. A/A re-randomisations via one matrix
        product). Centre the columns beforehand (subtract a global mean) so the
        subtraction below loses no precision.

        Args:
            count: ``(...)`` number of rows.
            sums: ``(..., m)`` column sums.
            cross: ``(..., m, m)`` sums of products.

        Returns:
            The moments.
        """
        n = np.asarray(count, dtype=np.float64)
        mean = sums / n[..., None]
        outer = mean[..., :, None] * mean[..., None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = (cross - n[..., None, None] * outer) / (n[..., None, None] - 1.0)
        return cls(n, mean, cov)

    @classmethod
    def stack(cls, parts: Sequence[Moments]) -> Moments:
        """Stack moments of equal width along a new leading axis."""
        return cls(
            np.stack([p.count for p in parts]),
            np.stack([p.mean for p in parts]),
            np.stack([p.cov for p in parts]),
        )

    def __add__(self, other: Moments) -> Moments:
        """Moments of the union of two disjoint samples (pooled, not averaged).

        ``S = ((n1 - 1) S1 + (n2 - 1) S2 + n1 n2 / n (m1 - m2)(m1 - m2)^T) / (n - 1)``,
        the same combination as tea-tasting's ``Aggregates.__add__``.
        """
        n1, n2 = self.count, other.count
        n = n1 + n2
        diff = self.mean - other.mean
        mean = (n1[..., None] * self.mean + n2[..., None] * other.mean) / n[..., None]
        between = diff[..., :, None] * diff[..., None, :] * (n1 * n2 / n)[..., None, None]
        within = (
            np.nan_to_num((n1 - 1.0)[..., None, None] * self.cov)
            + np.nan_to_num((n2 - 1.0)[..., None, None] * other.cov)
            + between
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = within / (n - 1.0)[..., None, None]
        return Moments(n, mean, cov)

    def take(self, index: int | tuple[int, ...] | slice) -> Moments:
        """Moments at one position of the leading axes."""
        return Moments(self.count[index], self.mean[index], self.cov[index])


def grouped_moments(
    values: NDArray[np.floating], codes: NDArray[np.integer], n_groups: int
) -> Moments:
    """Moments of the rows of ``values`` within each group ``0 .. n_groups - 1``.

    Rows are sorted by group once, then each contiguous block gets one BLAS product, so the
    cost is one pass over the data plus ``n_groups`` small ``m x m`` products.

    Args:
        values: ``(n, m)`` per-user values.
        codes: ``(n,)`` group index of each row, in ``[0, n_groups)``.
        n_groups: Number of groups.

    Returns:
        Moments with leading shape ``(n_groups,)``; empty groups have count 0 and NaN moments.
    """
    x = np.asarray(values, dtype=np.float64)
    codes = np.asarray(codes)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=n_groups)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    # Gather column by column into a column-major copy (contiguous reads and writes).
    xs = np.empty(x.shape, dtype=np.float64, order="F")
    for j in range(x.shape[1]):
        xs[:, j] = x[:, j][order]
    m = x.shape[1]
    means = np.full((n_groups, m), np.nan)
    covs = np.full((n_groups, m, m), np.nan)
    for g in range(n_groups):
        block = xs[bounds[g] : bounds[g + 1]]
        n = block.shape[0]
        if n == 0:
            continue
        mu = block.mean(axis=0)
        block -= mu  # in place: xs is our own copy, and this saves one n x m array
        means[g] = mu
        if n > 1:
            covs[g] = (block.T @ block) / (n - 1)
    return Moments(counts.astype(np.float64), means, covs)


__all__ = ["Moments", "grouped_moments"]
