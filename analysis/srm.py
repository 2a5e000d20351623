"""Sample-ratio mismatch (SRM): are the arms' user counts what the design intended?

A chi-square goodness-of-fit test of the observed counts per arm against the expected
shares (Fabijan et al. 2019): ``X^2 = sum_a (n_a - N w_a)^2 / (N w_a)`` with ``A - 1``
degrees of freedom. A small p-value (conventionally < 0.001) means the assignment or the
logging is broken, and no lift in the report should be trusted until it is explained.

References:
    Fabijan, A. et al. (2019). Diagnosing Sample Ratio Mismatch in Online Controlled
    Experiments: A Taxonomy and Rules of Thumb for Practitioners. KDD 2019.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

from analysis.errors import AnalysisError


@dataclass(frozen=True)
class SRMResult:
    """Result of a sample-ratio mismatch test.

    Attributes:
        segment: Segment the counts come from (``"all"`` for every assigned user).
        arms: Arm names, in the order of the counts.
        n_users: Observed users per arm.
        expected_share: Intended share of each arm (sums to 1).
        statistic: Pearson chi-square statistic.
        pvalue: p-value with ``len(arms) - 1`` degrees of freedom.
        alpha: Threshold below which ``mismatch`` is flagged.
        mismatch: ``pvalue < alpha``.
    """

    segment: str
    arms: tuple[str, ...]
    n_users: tuple[int, ...]
    expected_share: tuple[float, ...]
    statistic: float
    pvalue: float
    alpha: float
    mismatch: bool


def srm_test(
    counts: Mapping[str, int],
    expected_share: Mapping[str, float] | Sequence[float] | None = None,
    *,
    alpha: float = 0.001,
    segment: str = "all",
) -> SRMResult:
    """Chi-square test of arm counts against the intended split.

    Args:
        counts: Users per arm, e.g. ``{"control": 5012, "treatment": 4988}``.
        expected_share: Intended share per arm (normalised to sum 1); equal if ``None``.
        alpha: Flag a mismatch when ``pvalue < alpha`` (0.001 is the usual threshold).
        segment: Name of the population counted, for the record.

    Returns:
        The test result.

    Raises:
        AnalysisError: Fewer than two arms, a negative count, no users, or bad shares.

    Example:
        >>> r = srm_test({"control": 5000, "treatment": 5000})
        >>> r.pvalue, r.mismatch
        (1.0, False)
    """
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha == {alpha!r}, must be in (0, 1)")
    arms = tuple(counts)
    n = np.array([counts[a] for a in arms], dtype=np.float64)
    if len(arms) < 2:
        raise AnalysisError(f"counts has arms {list(arms)}, must have at least 2")
    if np.any(n < 0) or n.sum() == 0:
        raise AnalysisError(f"counts == {dict(counts)}, must be >= 0 with a positive total")
    if expected_share is None:
        w = np.full(len(arms), 1.0 / len(arms))
    else:
        if isinstance(expected_share, Mapping):
            missing = [a for a in arms if a not in expected_share]
            if missing:
                raise AnalysisError(f"expected_share lacks arms {missing}")
            w = np.array([expected_share[a] for a in arms], dtype=np.float64)
        else:
            w = np.asarray(expected_share, dtype=np.float64)
        if w.shape != (len(arms),) or np.any(w <= 0):
            raise AnalysisError(
                f"expected_share == {expected_share!r}, must be {len(arms)} positive shares"
            )
        w = w / w.sum()
    expected = n.sum() * w
    stat = float(np.sum((n - expected) ** 2 / expected))
    pvalue = float(scipy.stats.chi2.sf(stat, len(arms) - 1))
    return SRMResult(
        segment=segment,
        arms=arms,
        n_users=tuple(int(x) for x in n),
        expected_share=tuple(float(x) for x in w),
        statistic=stat,
        pvalue=pvalue,
        alpha=alpha,
        mismatch=pvalue < alpha,
    )


__all__ = ["SRMResult", "srm_test"]
