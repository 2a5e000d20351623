"""OPE estimates against references: errors, coverage and overlap by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.ope import (
    OPEEstimate,
    OPEResults,
    ReferenceValue,
    compare_with_references,
    overlap_diagnostics,
)

DIAG = overlap_diagnostics(np.array([1.0, 3.0]), np.array([0.5, 0.5]))


def _est(name: str, estimate: float, low: float, high: float, **kw: str) -> OPEEstimate:
    return OPEEstimate(name, estimate, low, high, 0.05, 100, DIAG, reward="finish", **kw)  # type: ignore[arg-type]


RESULTS = OPEResults(
    (
        _est("logged", 0.30, 0.28, 0.32),
        _est("ipw", 0.42, 0.38, 0.46),
        _est("dm", 0.36, 0.355, 0.365),
        _est("ipw", 0.12, 0.08, 0.16, quantity="effect"),
        _est("pdis", 0.70, 0.60, 0.80, level="session"),
    )
)


def test_errors_coverage_and_overlap_by_hand() -> None:
    table = compare_with_references(
        RESULTS,
        [
            ReferenceValue(
                "finish",
                "round",
                truth=0.40,
                online=0.37,
                online_ci_lower=0.35,
                online_ci_upper=0.39,
            ),
            ReferenceValue("finish", "round", quantity="effect", truth=0.10),
        ],
    )
    assert [(r.estimator, r.quantity) for r in table] == [
        ("ipw", "value"),
        ("dm", "value"),
        ("ipw", "effect"),
    ]
    ipw, dm, effect = table
    # ipw: 0.42 - 0.40 = 0.02; [0.38, 0.46] holds 0.40; overlaps [0.35, 0.39] (0.38 <= 0.39)
    assert ipw.error_vs_truth == pytest.approx(0.02)
    assert ipw.covers_truth is True
    assert ipw.error_vs_online == pytest.approx(0.05)
    assert ipw.overlaps_online is True
    # dm: [0.355, 0.365] misses 0.40 and lies inside [0.35, 0.39]
    assert dm.covers_truth is False
    assert dm.overlaps_online is True
    # the effect has no online figure: nan difference, no overlap verdict
    assert effect.covers_truth is True
    assert math.isnan(effect.error_vs_online)
    assert effect.overlaps_online is None
    assert effect.ess_ratio == pytest.approx(16 / 10 / 2)  # (1+3)^2 / (1+9) / 2
    df = table.to_pandas()
    assert list(df["estimator"]) == ["ipw", "dm", "ipw"]
    assert "covers_truth" in str(table)
    assert table._repr_html_().startswith("<table>")


def test_duplicate_references_are_an_error() -> None:
    ref = ReferenceValue("finish", "round", truth=0.4)
    with pytest.raises(AnalysisError, match=r"references has two entries"):
        compare_with_references(RESULTS, [ref, ref])
