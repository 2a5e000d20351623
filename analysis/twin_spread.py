"""The twin's truth over training seeds: how much of the true effect is the models' luck.

One twin pair gives the effect of shipping the treatment *as its models happened to
train*: the initial weights, the order of the mini-batches, the feature masks' draws. Run
the pair again with other agent seeds on the same world (``experiment.twin_replicates``)
and the true effect moves; its spread over ``R`` seeds is what training randomness alone
does to it. For each metric and segment this module gives the mean over the seeds with a
Student-t interval, the seeds' standard deviation, their range, and a flag for cells where
one twin cannot pin the truth down: where ``0 < z * sd`` and ``z * sd >= |mean|``, a single twin's truth
(mean plus or minus ``z`` standard deviations) reaches zero, so its sign depends on the seed.

Works on any ``R`` collections of :class:`~analysis.twin.TrueEffect` for the same cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.errors import AnalysisError
from analysis.mean_interval import mean_interval
from analysis.results import ResultCollection
from analysis.twin import TrueEffect


@dataclass(frozen=True)
class TrueEffectSpread:
    """The true relative effect of one cell over the twin pairs' seeds.

    Attributes:
        metric: Metric name.
        segment: ``"all"``, ``"new"`` or ``"old"``.
        n_seeds: Twin pairs (``R``).
        first: The first pair's truth (the twin of the A/B run's own pre-period, the
            headline's).
        mean: Mean over the seeds (NaN ones left out).
        sd: Their standard deviation (``ddof = 1``; NaN with fewer than two seeds).
        ci_lower: Lower end of the ``level`` Student-t interval of the mean.
        ci_upper: Its upper end.
        min: Smallest truth over the seeds.
        max: Largest.
        single_twin_unreliable: ``sd > 0`` and ``z * sd >= |mean|`` (``z`` the normal
            quantile of ``level``): one twin's truth may have either sign.
    """

    metric: str
    segment: str
    n_seeds: int
    first: float
    mean: float
    sd: float
    ci_lower: float
    ci_upper: float
    min: float
    max: float
    single_twin_unreliable: bool


def truth_spread(
    replicates: Sequence[ResultCollection[TrueEffect]], level: float = 0.95
) -> ResultCollection[TrueEffectSpread]:
    """Per cell, the spread of the true relative effect over the twin pairs.

    Args:
        replicates: Each pair's :func:`~analysis.twin.twin_effects`, the first pair first;
            all with the same cells in the same order.
        level: Confidence level of the mean's interval and of the flag's ``z``.

    Raises:
        AnalysisError: No pair, a level outside (0, 1), or pairs with different cells.

    Example:
        >>> from analysis.twin import TrueEffect
        >>> def pair(rel):
        ...     return ResultCollection([TrueEffect("finishes", "all", 10, 1.0, 1 + rel, rel, rel)])
        >>> s = truth_spread([pair(0.02), pair(0.04), pair(-0.03)])[0]
        >>> round(s.mean, 4), round(s.sd, 4), s.single_twin_unreliable
        (0.01, 0.0361, True)
    """
    if not replicates:
        raise AnalysisError("truth_spread needs at least one twin pair")
    if not 0.0 < level < 1.0:
        raise AnalysisError(f"level == {level!r}, must be in (0, 1)")
    cells = [(r.metric, r.segment) for r in replicates[0]]
    for k, rep in enumerate(replicates[1:], start=1):
        if [(r.metric, r.segment) for r in rep] != cells:
            raise AnalysisError(f"twin pair {k} has other cells than pair 0; all must match")
    z = float(stats.norm.ppf(0.5 + level / 2))
    out = []
    for i, (metric, segment) in enumerate(cells):
        values = np.array([rep[i].rel_effect_size for rep in replicates], dtype=float)
        known = values[~np.isnan(values)]
        n = known.size
        m = mean_interval(known, level)
        mean, sd, lo, hi = m.mean, m.sd, m.lower, m.upper
        out.append(
            TrueEffectSpread(
                metric=metric,
                segment=segment,
                n_seeds=len(replicates),
                first=float(values[0]),
                mean=mean,
                sd=sd,
                ci_lower=lo,
                ci_upper=hi,
                min=float(known.min()) if n else math.nan,
                max=float(known.max()) if n else math.nan,
                single_twin_unreliable=bool(n >= 2 and sd > 0 and z * sd >= abs(mean)),
            )
        )
    return ResultCollection(out, f"True relative effect over {len(replicates)} training seeds")


__all__ = ["TrueEffectSpread", "truth_spread"]
