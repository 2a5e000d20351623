"""Segment specs and the new-versus-old difference test."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import AnalysisError, SchemaError
from analysis.segments import segment_masks

TABLE = pd.DataFrame({"cohort": ["new", "old", "old"], "device": [1, 2, 1]})


def test_specs() -> None:
    segs = dict(segment_masks(TABLE, ["all", "new", "old", "device"]))
    assert segs["all"].tolist() == [True, True, True]
    assert segs["new"].tolist() == [True, False, False]
    assert segs["device=1"].tolist() == [True, False, True]
    assert segs["device=2"].tolist() == [False, True, False]
    assert dict(segment_masks(TABLE, ["device=2"]))["device=2"].tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("specs", "exc", "match"),
    [
        ([], AnalysisError, "segments == \\[\\]"),
        (["country"], SchemaError, "segment 'country'"),
        (["country=fr"], SchemaError, "no column 'country'"),
        (["device", "device=1"], AnalysisError, "more than once"),
    ],
)
def test_invalid_specs(specs: list[str], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        segment_masks(TABLE, specs)


def test_cohort_needs_column() -> None:
    with pytest.raises(SchemaError, match="needs a 'cohort' column"):
        segment_masks(TABLE.drop(columns=["cohort"]), ["new"])
