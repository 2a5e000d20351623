"""The gap between the A/B estimate and the effect of shipping, decomposed.

For one metric and segment, with ``d`` the A/B estimate of the relative lift and ``T`` the
twin's truth (the pair that shares the A/B run's pre-period), the gap ``g = d - T`` has
three sources (``docs/methods/training_data.md``, "The gap"):

* **sampling**: the A/B test sees half the users, so ``d`` scatters around its mean with
  the standard error of the A/B interval, ``s = (upper - lower) / (2 z)``;
* **training**: the truth is itself one draw of how the models happened to train; over
  the twin pairs' seeds it scatters with standard deviation ``t``
  (:mod:`analysis.twin_spread`; unknown with one pair);
* **the rest**: what neither explains, the training-data design's bias ``b``.

If the three are independent, ``E[g^2] = s^2 + t^2 + b^2``. One run gives one ``g``, so the
moment estimate ``b^2 = max(0, g^2 - s^2 - t^2)`` is all it can say about the bias; the
shares ``s^2 / m``, ``t^2 / m`` and ``b^2 / m`` with ``m = max(g^2, s^2 + t^2)`` sum to one
and say which source the gap is most likely made of. ``within_noise`` is
``|g| <= z sqrt(s^2 + t^2)``. The real bias of a design is the mean gap over many
replicates (``configs/sweep_estimand.toml``); a single run's ``rest`` only points at it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scipy import stats

from analysis.errors import AnalysisError
from analysis.lift_table import LiftCell
from analysis.results import ResultCollection
from analysis.twin_spread import TrueEffectSpread


@dataclass(frozen=True)
class GapDecomposition:
    """The gap of one cell and what explains it (all on the relative-lift scale).

    Attributes:
        metric: Metric name.
        segment: ``"all"``, ``"new"`` or ``"old"``.
        estimate: The A/B estimate ``d``.
        truth: The twin's truth ``T``.
        gap: ``d - T``.
        sampling_sd: ``s``, from the A/B interval.
        training_sd: ``t``, the truth's spread over the twin seeds (NaN with one pair:
            then the shares leave it out).
        rest: ``sign(g) sqrt(max(0, g^2 - s^2 - t^2))``: the gap beyond both (the
            design's bias, as far as one run shows it).
        sampling_share: ``s^2 / m``.
        training_share: ``t^2 / m`` (NaN with one pair).
        rest_share: ``rest^2 / m``.
        within_noise: ``|g| <= z sqrt(s^2 + t^2)``.
    """

    metric: str
    segment: str
    estimate: float
    truth: float
    gap: float
    sampling_sd: float
    training_sd: float
    rest: float
    sampling_share: float
    training_share: float
    rest_share: float
    within_noise: bool


def decompose_gap(
    cells: Iterable[LiftCell],
    spread: Mapping[tuple[str, str], TrueEffectSpread] | None = None,
    alpha: float = 0.05,
) -> ResultCollection[GapDecomposition]:
    """The decomposition of every cell with a known truth and interval.

    Args:
        cells: The headline table's cells (their intervals are ``1 - alpha`` ones).
        spread: The truth's spread over the twin seeds by ``(metric, segment)``; ``None``
            or a missing cell: training randomness unmeasured.
        alpha: The level of the cells' intervals.

    Raises:
        AnalysisError: ``alpha`` outside (0, 1).

    Example:
        >>> from analysis.lift_table import LiftCell
        >>> cell = LiftCell("finishes", "all", 0.10, 0.02, 0.18, True, 0.0)
        >>> g = decompose_gap([cell])[0]
        >>> round(g.sampling_sd, 4), round(g.rest, 4), g.within_noise
        (0.0408, 0.0913, False)
    """
    if not 0.0 < alpha < 1.0:
        raise AnalysisError(f"alpha == {alpha!r}, must be in (0, 1)")
    z = float(stats.norm.ppf(1.0 - alpha / 2))
    out = []
    for c in cells:
        known = (c.true_rel_effect_size, c.rel_effect_size_ci_lower, c.rel_effect_size_ci_upper)
        if any(math.isnan(v) for v in (c.rel_effect_size, *known)):
            continue
        gap = c.rel_effect_size - c.true_rel_effect_size
        s = (c.rel_effect_size_ci_upper - c.rel_effect_size_ci_lower) / (2 * z)
        found = None if spread is None else spread.get((c.metric, c.segment))
        t = found.sd if found is not None else math.nan
        t2 = 0.0 if math.isnan(t) else t * t
        b2 = max(0.0, gap * gap - s * s - t2)
        m = max(gap * gap, s * s + t2)
        out.append(
            GapDecomposition(
                metric=c.metric,
                segment=c.segment,
                estimate=c.rel_effect_size,
                truth=c.true_rel_effect_size,
                gap=gap,
                sampling_sd=s,
                training_sd=t,
                rest=math.copysign(math.sqrt(b2), gap),
                sampling_share=s * s / m if m else math.nan,
                training_share=t2 / m if m and not math.isnan(t) else math.nan,
                rest_share=b2 / m if m else math.nan,
                within_noise=abs(gap) <= z * math.sqrt(s * s + t2),
            )
        )
    return ResultCollection(out, "The gap between the A/B estimate and the twin's truth")


__all__ = ["GapDecomposition", "decompose_gap"]
