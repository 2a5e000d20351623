"""Frozen result records and a collection that renders itself.

Every analysis returns frozen dataclasses; many of them go into a
:class:`ResultCollection`, which converts to pandas (``to_pandas``), to plain dicts for
JSON (``to_dicts``), prints as a fixed-width table (``__str__``) and shows as HTML in a
notebook (``_repr_html_``). Plot and report functions take these objects, not raw frames.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError


@dataclass(frozen=True)
class EffectResult:
    """One metric compared between two arms within one segment.

    Attributes:
        metric: Metric name, e.g. ``"active_days"``.
        segment: Segment name, e.g. ``"all"``, ``"new"``, ``"old"`` or ``"device=2"``.
        control: Control value (CUPED-adjusted when ``cuped`` is true).
        treatment: Treatment value (CUPED-adjusted when ``cuped`` is true).
        n_control: Users in the control arm of the segment.
        n_treatment: Users in the treatment arm of the segment.
        effect_size: ``treatment - control``.
        effect_size_ci_lower: Lower bound of the ``1 - alpha`` interval of the difference.
        effect_size_ci_upper: Upper bound of that interval.
        rel_effect_size: ``treatment / control - 1``.
        rel_effect_size_ci_lower: Lower bound of the relative interval.
        rel_effect_size_ci_upper: Upper bound of the relative interval.
        pvalue: Welch p-value of no difference.
        pvalue_adjusted: p-value after the multiple-testing correction (``correction``).
        alpha: Significance level of the intervals and of ``significant``.
        se: Standard error of ``effect_size``.
        df: Welch-Satterthwaite degrees of freedom.
        cuped: Whether CUPED covariates were used.
        var_reduction: Share of the difference's variance removed by CUPED (0 without).
        rel_ci_method: ``"log_delta"`` or ``"fieller"``.
        correction: ``"holm"``, ``"bh"`` or ``"none"``.
        unit: Unit of the metric.
        note: Anything the reader must know (e.g. users without a pre-period).
    """

    metric: str
    segment: str
    control: float
    treatment: float
    n_control: int
    n_treatment: int
    effect_size: float
    effect_size_ci_lower: float
    effect_size_ci_upper: float
    rel_effect_size: float
    rel_effect_size_ci_lower: float
    rel_effect_size_ci_upper: float
    pvalue: float
    pvalue_adjusted: float
    alpha: float
    se: float
    df: float
    cuped: bool
    var_reduction: float
    rel_ci_method: str
    correction: str
    unit: str = ""
    note: str = ""

    @property
    def significant(self) -> bool:
        """``pvalue_adjusted < alpha``."""
        return bool(self.pvalue_adjusted < self.alpha)


@dataclass(frozen=True)
class SegmentDiffResult:
    """Whether one metric's effect differs between two disjoint segments (e.g. new vs old).

    ``diff = effect_a - effect_b``, ``se = sqrt(se_a^2 + se_b^2)``, normal test (the
    segments hold different users, so the two estimates are independent).

    Attributes:
        metric: Metric name.
        segment_a: First segment, e.g. ``"new"``.
        segment_b: Second segment, e.g. ``"old"``.
        effect_a: Absolute effect in ``segment_a``.
        effect_b: Absolute effect in ``segment_b``.
        effect_size: ``effect_a - effect_b``.
        effect_size_ci_lower: Lower bound of its ``1 - alpha`` interval.
        effect_size_ci_upper: Upper bound.
        rel_effect_a: Relative effect in ``segment_a``.
        rel_effect_b: Relative effect in ``segment_b``.
        pvalue: Two-sided p-value of equal effects.
        alpha: Significance level.
    """

    metric: str
    segment_a: str
    segment_b: str
    effect_a: float
    effect_b: float
    effect_size: float
    effect_size_ci_lower: float
    effect_size_ci_upper: float
    rel_effect_a: float
    rel_effect_b: float
    pvalue: float
    alpha: float


R = TypeVar("R")


class ResultCollection(Generic[R]):
    """An ordered, immutable collection of frozen result records of one type.

    Args:
        records: The records (frozen dataclasses).
        title: Optional caption for the table.

    Example:
        >>> from analysis.srm import srm_test
        >>> rc = ResultCollection([srm_test({"control": 10, "treatment": 12})])
        >>> len(rc), rc.to_pandas().shape[0]
        (1, 1)
    """

    def __init__(self, records: Sequence[R], title: str = "") -> None:
        for r in records:
            if not dataclasses.is_dataclass(r) or isinstance(r, type):
                raise AnalysisError(f"records must be dataclass instances, got {type(r)!r}")
        self._records: tuple[R, ...] = tuple(records)
        self.title = title

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[R]:
        return iter(self._records)

    def __getitem__(self, index: int) -> R:
        return self._records[index]

    @property
    def records(self) -> tuple[R, ...]:
        """The records, in order."""
        return self._records

    def filter(self, predicate: Callable[[R], bool]) -> ResultCollection[R]:
        """A new collection of the records for which ``predicate`` is true."""
        return ResultCollection([r for r in self._records if predicate(r)], self.title)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per record (NaN and infinities become ``None``)."""
        return [
            {k: jsonable(v) for k, v in dataclasses.asdict(r).items()}  # type: ignore[call-overload]
            for r in self._records
        ]

    def to_pandas(self) -> pd.DataFrame:
        """One row per record, one column per field."""
        if not self._records:
            return pd.DataFrame()
        return pd.DataFrame([dataclasses.asdict(r) for r in self._records])  # type: ignore[call-overload]

    def _display_frame(self) -> pd.DataFrame:
        frame = self.to_pandas()
        for col in frame.columns:
            if frame[col].dtype.kind == "f":
                frame[col] = frame[col].map(format_value)
        return frame

    def __str__(self) -> str:
        if not self._records:
            return f"{self.title}\n(empty)" if self.title else "(empty)"
        table = self._display_frame().to_string(index=False)
        return f"{self.title}\n{table}" if self.title else table

    def __repr__(self) -> str:
        kind = type(self._records[0]).__name__ if self._records else "record"
        return f"ResultCollection({len(self._records)} {kind}s)\n{self}"

    def _repr_html_(self) -> str:
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        if not self._records:
            return f"<table>{caption}<tr><td>(empty)</td></tr></table>"
        body = self._display_frame().to_html(index=False, border=0, classes="results")
        return body.replace(">\n  <thead>", f">{caption}\n  <thead>", 1)


def format_value(value: float) -> str:
    """Four significant digits; scientific notation for very large or small magnitudes."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4g}"


def jsonable(value: Any) -> Any:
    """Convert numpy scalars and containers to JSON types; NaN and infinities to ``None``."""
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


__all__ = ["EffectResult", "ResultCollection", "SegmentDiffResult", "format_value", "jsonable"]
