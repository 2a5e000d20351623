"""The truth's spread over twin seeds, against the standard library and scipy's t."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import scipy.stats

from analysis.errors import AnalysisError
from analysis.results import ResultCollection
from analysis.twin import TrueEffect
from analysis.twin_spread import truth_spread

CELLS = (("finishes", "all"), ("finishes", "new"), ("dislikes", "new"))


def _pair(rels: tuple[float, ...]) -> ResultCollection[TrueEffect]:
    return ResultCollection(
        [TrueEffect(m, s, 100, 1.0, 1.0 + r, r, r) for (m, s), r in zip(CELLS, rels, strict=True)]
    )


def test_mean_sd_and_t_interval_match_independent_formulas() -> None:
    rng = np.random.default_rng(3)
    draws = rng.normal(0.02, 0.03, size=(7, 3))
    spread = truth_spread([_pair(tuple(row)) for row in draws], level=0.9)
    for j, cell in enumerate(spread):
        values = draws[:, j].tolist()
        mean, sd = statistics.fmean(values), statistics.stdev(values)
        lo, hi = scipy.stats.t.interval(0.9, 6, loc=mean, scale=sd / math.sqrt(7))
        assert (cell.metric, cell.segment) == CELLS[j]
        assert cell.n_seeds == 7
        assert cell.first == values[0]
        assert cell.mean == pytest.approx(mean, rel=1e-12, abs=1e-15)
        assert cell.sd == pytest.approx(sd, rel=1e-12)
        assert (cell.ci_lower, cell.ci_upper) == pytest.approx((lo, hi), rel=1e-12)
        assert (cell.min, cell.max) == (min(values), max(values))


def test_a_single_twin_is_unreliable_exactly_when_its_spread_reaches_zero() -> None:
    z = scipy.stats.norm.ppf(0.975)
    # Mean 0.1 in every cell; sd chosen just below, at and far above 0.1 / z.
    half = 0.1 / z / math.sqrt(2)  # two values m +- h have sd h * sqrt(2)
    below, above = (
        _pair((0.1 + half * 0.999, 0.1 + half * 1.001, 0.5)),
        _pair((0.1 - half * 0.999, 0.1 - half * 1.001, -0.3)),
    )
    flags = [c.single_twin_unreliable for c in truth_spread([below, above])]
    assert flags == [False, True, True]


def test_one_seed_has_no_spread_and_exact_zeros_are_pinned() -> None:
    (cell, *_) = truth_spread([_pair((0.05, 0.0, 0.0))])
    assert cell.mean == 0.05
    assert math.isnan(cell.sd)
    assert math.isnan(cell.ci_lower)
    assert not cell.single_twin_unreliable
    zero = truth_spread([_pair((0.0, 0.0, 0.0))] * 4)[1]
    assert zero.sd == 0.0
    assert not zero.single_twin_unreliable  # an A/A truth: exactly 0 on every seed


def test_nan_truths_are_left_out() -> None:
    pairs = [_pair((0.1, 0.2, math.nan)), _pair((0.3, 0.4, 0.5)), _pair((0.2, 0.3, math.nan))]
    cell = truth_spread(pairs)[2]
    assert math.isnan(cell.first)
    assert cell.mean == 0.5
    assert math.isnan(cell.sd)


def test_bad_input_is_refused() -> None:
    with pytest.raises(AnalysisError, match="at least one twin pair"):
        truth_spread([])
    with pytest.raises(AnalysisError, match=r"level == 1\.0, must be in \(0, 1\)"):
        truth_spread([_pair((0.0, 0.0, 0.0))], level=1.0)
    other = ResultCollection([TrueEffect("likes", "all", 1, 1.0, 1.0, 0.0, 0.0)] * 3)
    with pytest.raises(AnalysisError, match="twin pair 1 has other cells"):
        truth_spread([_pair((0.0, 0.0, 0.0)), other])
