"""Set OPE estimates beside the truth and the online A/B value: how right was each estimator?

adasim's simulator knows the evaluation (treatment) policy's exact value and the twin
knows the exact effect; the A/B test gives an online estimate with an interval. For every
estimate of :func:`~analysis.ope.evaluate.evaluate_logs` with a matching
:class:`ReferenceValue` (same reward, level, cohort and quantity),
:func:`compare_with_references` reports the error against the truth, whether the OPE
interval covers the truth, the difference from the online value and whether the OPE and
A/B intervals overlap. ``logged`` rows estimate the logging policy, not the evaluation
policy, so they are not compared.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from analysis.errors import AnalysisError
from analysis.ope.results import Level, OPEResults, Quantity, render_html, render_text

if TYPE_CHECKING:
    import pandas as pd

_NAN = float("nan")

_DISPLAY = (
    "cohort",
    "level",
    "quantity",
    "reward",
    "estimator",
    "estimate",
    "ci_lower",
    "ci_upper",
    "truth",
    "error_vs_truth",
    "covers_truth",
    "online",
    "error_vs_online",
    "overlaps_online",
)


@dataclass(frozen=True)
class ReferenceValue:
    """A value known from outside the log, to compare OPE estimates with.

    Attributes:
        reward: Reward name, as in :class:`~analysis.ope.results.OPEEstimate`.
        level: ``"round"`` or ``"session"``.
        cohort: Cohort label (``"all"`` or ``"column=value"``).
        quantity: ``"value"`` (the evaluation policy's value) or ``"effect"`` (its value
            minus the logging policy's).
        truth: Exact value from the simulator (``nan`` if unknown).
        online: The online A/B estimate of the same quantity (``nan`` if none).
        online_ci_lower: Lower end of the online interval (``nan`` if none).
        online_ci_upper: Upper end of the online interval (``nan`` if none).
    """

    reward: str
    level: Level
    cohort: str = "all"
    quantity: Quantity = "value"
    truth: float = _NAN
    online: float = _NAN
    online_ci_lower: float = _NAN
    online_ci_upper: float = _NAN

    @property
    def key(self) -> tuple[str, str, str, str]:
        """``(reward, level, cohort, quantity)``."""
        return (self.reward, self.level, self.cohort, self.quantity)


@dataclass(frozen=True)
class OPEComparison:
    """One OPE estimate against its reference.

    Attributes:
        estimator: Estimator name.
        reward: Reward name.
        level: ``"round"`` or ``"session"``.
        cohort: Cohort label.
        quantity: ``"value"`` or ``"effect"``.
        estimate: The OPE estimate.
        ci_lower: Lower end of the OPE interval.
        ci_upper: Upper end of the OPE interval.
        truth: The exact value (``nan`` if unknown).
        error_vs_truth: ``estimate - truth``.
        covers_truth: Whether the OPE interval contains the truth (None if no truth).
        online: The online A/B estimate (``nan`` if none).
        online_ci_lower: Lower end of the online interval.
        online_ci_upper: Upper end of the online interval.
        error_vs_online: ``estimate - online``.
        overlaps_online: Whether the OPE and online intervals overlap (None if no online
            interval).
        ess_ratio: Effective sample size over the number of rounds, from the diagnostics.
        max_weight: Largest importance weight, from the diagnostics.
    """

    estimator: str
    reward: str
    level: Level
    cohort: str
    quantity: Quantity
    estimate: float
    ci_lower: float
    ci_upper: float
    truth: float
    error_vs_truth: float
    covers_truth: bool | None
    online: float
    online_ci_lower: float
    online_ci_upper: float
    error_vs_online: float
    overlaps_online: bool | None
    ess_ratio: float
    max_weight: float

    def to_dict(self) -> dict[str, Any]:
        """The comparison as a flat dict."""
        return asdict(self)


@dataclass(frozen=True)
class OPEComparisonTable(Sequence[OPEComparison]):
    """An immutable collection of :class:`OPEComparison` that renders itself as a table.

    Attributes:
        rows: The comparisons.
    """

    rows: tuple[OPEComparison, ...] = ()

    def __getitem__(self, index: int) -> OPEComparison:  # type: ignore[override]
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[OPEComparison]:
        return iter(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One flat dict per comparison."""
        return [r.to_dict() for r in self.rows]

    def to_pandas(self) -> pd.DataFrame:
        """One row per comparison."""
        import pandas as pd

        return pd.DataFrame(self.to_dicts())

    def __str__(self) -> str:
        return render_text(self.to_dicts(), _DISPLAY)

    def _repr_html_(self) -> str:
        return render_html(self.to_dicts(), _DISPLAY)


def _covers(low: float, high: float, value: float) -> bool | None:
    if math.isnan(value) or math.isnan(low) or math.isnan(high):
        return None
    return low <= value <= high


def compare_with_references(
    results: OPEResults, references: Sequence[ReferenceValue]
) -> OPEComparisonTable:
    """Each non-``logged`` estimate with a matching reference, against that reference.

    Args:
        results: Output of :func:`~analysis.ope.evaluate.evaluate_logs` (or any
            collection of estimates).
        references: Known values; at most one per ``(reward, level, cohort, quantity)``.

    Returns:
        One comparison per matched estimate, in the order of ``results``.

    Raises:
        AnalysisError: Two references share a key.
    """
    by_key: dict[tuple[str, str, str, str], ReferenceValue] = {}
    for given in references:
        if given.key in by_key:
            raise AnalysisError(
                f"references has two entries for (reward, level, cohort, quantity) == {given.key}"
            )
        by_key[given.key] = given
    rows = []
    for e in results:
        ref = by_key.get((e.reward, e.level, e.cohort, e.quantity))
        if ref is None or e.estimator == "logged":
            continue
        online_interval = (ref.online_ci_lower, ref.online_ci_upper)
        overlaps: bool | None = None
        if not any(math.isnan(v) for v in (*online_interval, e.ci_lower, e.ci_upper)):
            overlaps = e.ci_lower <= ref.online_ci_upper and ref.online_ci_lower <= e.ci_upper
        rows.append(
            OPEComparison(
                estimator=e.estimator,
                reward=e.reward,
                level=e.level,
                cohort=e.cohort,
                quantity=e.quantity,
                estimate=e.estimate,
                ci_lower=e.ci_lower,
                ci_upper=e.ci_upper,
                truth=ref.truth,
                error_vs_truth=e.estimate - ref.truth,
                covers_truth=_covers(e.ci_lower, e.ci_upper, ref.truth),
                online=ref.online,
                online_ci_lower=ref.online_ci_lower,
                online_ci_upper=ref.online_ci_upper,
                error_vs_online=e.estimate - ref.online,
                overlaps_online=overlaps,
                ess_ratio=e.diagnostics.ess_ratio,
                max_weight=e.diagnostics.max_weight,
            )
        )
    return OPEComparisonTable(tuple(rows))
