"""Segments of the per-user table, and whether a metric's effect differs between two.

A segment spec is a string:

* ``"all"``: every user;
* ``"new"`` / ``"old"``: the cohort (``cohort`` column, see ``analysis.metrics``);
* ``"<column>"``: one segment per distinct value of a user column, named
  ``"<column>=<value>"`` (e.g. ``"device"`` -> ``"device=0"``, ``"device=1"``, ...);
* ``"<column>=<value>"``: the users with that value.

The difference of an effect between two disjoint segments ``a`` and ``b`` (different
users, so independent estimates) is tested with
``z = (d_a - d_b) / sqrt(se_a^2 + se_b^2)`` against the normal distribution: the
interaction test of a treatment-by-segment model (Kohavi, Tang, Xu 2020, ch. 3, "segment
differences"). It needs large segments; with few users per segment use a
regression with an interaction term instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import NDArray

from analysis.errors import AnalysisError, SchemaError
from analysis.results import EffectResult, ResultCollection, SegmentDiffResult

COHORTS = ("new", "old")


def segment_masks(table: pd.DataFrame, specs: Sequence[str]) -> list[tuple[str, NDArray[np.bool_]]]:
    """Resolve segment specs to ``(name, boolean mask over table rows)`` pairs.

    Args:
        table: The per-user table.
        specs: Segment specs (see the module docstring).

    Returns:
        The segments in the order of ``specs`` (a column spec expands in sorted value order).

    Raises:
        SchemaError: A spec names a column the table lacks.
        AnalysisError: An empty spec list or a duplicate segment name.
    """
    if not specs:
        raise AnalysisError("segments == [], must name at least one segment (e.g. 'all')")
    out: list[tuple[str, NDArray[np.bool_]]] = []
    n = len(table)
    for spec in specs:
        if spec == "all":
            out.append(("all", np.ones(n, dtype=bool)))
        elif spec in COHORTS:
            if "cohort" not in table.columns:
                raise SchemaError(f"segment {spec!r} needs a 'cohort' column; table lacks it")
            out.append((spec, table["cohort"].to_numpy() == spec))
        elif "=" in spec:
            col, value = spec.split("=", 1)
            if col not in table.columns:
                raise SchemaError(f"segment {spec!r}: table has no column {col!r}")
            out.append((spec, table[col].astype(str).to_numpy() == value))
        else:
            if spec not in table.columns:
                raise SchemaError(
                    f"segment {spec!r} is not 'all', 'new', 'old' or a column of the table "
                    f"(columns: {list(table.columns)})"
                )
            values = table[spec].astype(str).to_numpy()
            for value in sorted(set(values.tolist())):
                out.append((f"{spec}={value}", values == value))
    names = [name for name, _ in out]
    dup = {x for x in names if names.count(x) > 1}
    if dup:
        raise AnalysisError(f"segments {sorted(dup)} appear more than once")
    return out


def segment_difference(
    effects: ResultCollection[EffectResult],
    segment_a: str = "new",
    segment_b: str = "old",
    *,
    alpha: float | None = None,
) -> ResultCollection[SegmentDiffResult]:
    """Test, per metric, whether the effect in ``segment_a`` differs from ``segment_b``.

    The two segments must hold different users (e.g. ``new`` and ``old``).

    Args:
        effects: Results that include both segments for the metrics to compare.
        segment_a: First segment name.
        segment_b: Second segment name.
        alpha: Level of the interval; defaults to the effects' ``alpha``.

    Returns:
        One record per metric present in both segments.
    """
    by_key = {(r.metric, r.segment): r for r in effects}
    metrics = [m for m, s in by_key if s == segment_a and (m, segment_b) in by_key]
    if not metrics:
        raise AnalysisError(
            f"no metric has results for both segments {segment_a!r} and {segment_b!r}"
        )
    records = []
    for metric in metrics:
        a, b = by_key[(metric, segment_a)], by_key[(metric, segment_b)]
        level = a.alpha if alpha is None else alpha
        if not 0 < level < 1:
            raise AnalysisError(f"alpha == {level!r}, must be in (0, 1)")
        diff = a.effect_size - b.effect_size
        se = float(np.hypot(a.se, b.se))
        z = scipy.stats.norm.ppf(1 - level / 2)
        if se > 0:
            pvalue = float(2 * scipy.stats.norm.sf(abs(diff) / se))
        else:
            pvalue = 1.0 if diff == 0 else 0.0
        records.append(
            SegmentDiffResult(
                metric=metric,
                segment_a=segment_a,
                segment_b=segment_b,
                effect_a=a.effect_size,
                effect_b=b.effect_size,
                effect_size=diff,
                effect_size_ci_lower=diff - z * se,
                effect_size_ci_upper=diff + z * se,
                rel_effect_a=a.rel_effect_size,
                rel_effect_b=b.rel_effect_size,
                pvalue=pvalue,
                alpha=level,
            )
        )
    return ResultCollection(records, f"Effect difference {segment_a} - {segment_b}")


__all__ = ["COHORTS", "segment_difference", "segment_masks"]
