"""Result collections render themselves: pandas, dicts/JSON, text table, HTML."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.results import ResultCollection, format_value, jsonable
from analysis.srm import srm_test


def _rc() -> ResultCollection:  # type: ignore[type-arg]
    return ResultCollection(
        [srm_test({"control": 10, "treatment": 14}), srm_test({"control": 10, "treatment": 10})],
        "SRM",
    )


def test_to_pandas_and_dicts() -> None:
    rc = _rc()
    frame = rc.to_pandas()
    assert list(frame.columns)[:3] == ["segment", "arms", "n_users"]
    assert len(frame) == 2
    dicts = rc.to_dicts()
    assert dicts[0]["arms"] == ["control", "treatment"]
    json.dumps(dicts, allow_nan=False)


def test_str_and_html() -> None:
    rc = _rc()
    text = str(rc)
    assert text.startswith("SRM\n")
    assert "pvalue" in text
    html = rc._repr_html_()
    assert "<table" in html
    assert "<caption>SRM</caption>" in html
    assert "ResultCollection(2 SRMResults)" in repr(rc)


def test_empty_collection() -> None:
    rc: ResultCollection[object] = ResultCollection([], "nothing")
    assert str(rc) == "nothing\n(empty)"
    assert rc.to_pandas().empty
    assert "(empty)" in rc._repr_html_()


def test_filter_and_index() -> None:
    rc = _rc()
    assert len(rc.filter(lambda r: r.n_users[1] == 14)) == 1
    assert rc[1].pvalue == 1.0


def test_rejects_non_records() -> None:
    with pytest.raises(AnalysisError, match="dataclass instances"):
        ResultCollection([1, 2])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (0.0, "0"),
        (1234567.0, "1.23e+06"),
        (0.5, "0.5"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_jsonable() -> None:
    assert jsonable(np.float64("nan")) is None
    assert jsonable((np.int64(3), np.bool_(True))) == [3, True]
