"""Sample-ratio mismatch against scipy.stats.chisquare."""

from __future__ import annotations

import pytest
import scipy.stats

from analysis.errors import AnalysisError
from analysis.srm import srm_test


def test_matches_scipy_chisquare() -> None:
    r = srm_test({"control": 5120, "treatment": 4880})
    ref = scipy.stats.chisquare([5120, 4880])
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert not r.mismatch


def test_unequal_design_and_mismatch() -> None:
    r = srm_test({"control": 8000, "treatment": 2400}, {"control": 0.8, "treatment": 0.2})
    ref = scipy.stats.chisquare([8000, 2400], [0.8 * 10400, 0.2 * 10400])
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    assert r.mismatch


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (({"control": 10},), {}, "at least 2"),
        (({"control": 0, "treatment": 0},), {}, "positive total"),
        (({"control": 5, "treatment": 5}, [0.5, -0.5]), {}, "positive shares"),
        (({"control": 5, "treatment": 5}, {"control": 1.0}), {}, "lacks arms"),
        (({"control": 5, "treatment": 5},), {"alpha": 0.0}, "alpha == 0.0"),
    ],
)
def test_invalid_input(args: tuple[object, ...], kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        srm_test(*args, **kwargs)  # type: ignore[arg-type]
