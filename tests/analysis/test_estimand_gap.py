"""The gap between the A/B estimate and the twin's truth, decomposed."""

from __future__ import annotations

import math

import pytest
import scipy.stats

from analysis.errors import AnalysisError
from analysis.estimand_gap import decompose_gap
from analysis.lift_table import LiftCell
from analysis.twin_spread import TrueEffectSpread


def _cell(est: float, lo: float, hi: float, truth: float, metric: str = "finishes") -> LiftCell:
    return LiftCell(metric, "all", est, lo, hi, False, truth)


def _spread(sd: float, metric: str = "finishes") -> TrueEffectSpread:
    return TrueEffectSpread(metric, "all", 5, 0.0, 0.0, sd, -sd, sd, -sd, sd, False)


def test_parts_follow_the_moment_decomposition() -> None:
    z = scipy.stats.norm.ppf(0.95)  # alpha 0.1
    est, lo, hi, truth, t = 0.12, 0.04, 0.24, -0.02, 0.03
    (g,) = decompose_gap([_cell(est, lo, hi, truth)], {("finishes", "all"): _spread(t)}, 0.1)
    s = (hi - lo) / (2 * z)
    gap = est - truth
    assert g.gap == pytest.approx(gap, rel=1e-15)
    assert g.sampling_sd == pytest.approx(s, rel=1e-12)
    assert g.training_sd == t
    assert g.rest == pytest.approx(math.sqrt(gap**2 - s**2 - t**2), rel=1e-12)
    assert g.sampling_share == pytest.approx(s**2 / gap**2, rel=1e-12)
    assert g.training_share == pytest.approx(t**2 / gap**2, rel=1e-12)
    total = g.sampling_share + g.training_share + g.rest_share
    assert total == pytest.approx(1.0, rel=1e-12)
    assert abs(gap) > z * math.hypot(s, t)
    assert not g.within_noise


def test_a_gap_inside_the_noise_has_no_rest_and_keeps_its_sign() -> None:
    (small,) = decompose_gap([_cell(0.0, -0.2, 0.2, 0.01)])
    assert small.rest == 0.0
    assert small.rest_share == 0.0
    assert small.within_noise
    assert small.sampling_share == pytest.approx(1.0)
    (neg,) = decompose_gap([_cell(-0.3, -0.35, -0.25, 0.0)])
    assert neg.rest < 0
    assert not neg.within_noise


def test_within_noise_switches_at_z_times_the_noise() -> None:
    z = scipy.stats.norm.ppf(0.975)
    s = 0.05
    half = z * s
    inside, outside = (
        decompose_gap([_cell(0.0, -half, half, -k * z * s)])[0] for k in (0.999, 1.001)
    )
    assert inside.within_noise
    assert not outside.within_noise


def test_unmeasured_training_leaves_its_share_out() -> None:
    (g,) = decompose_gap([_cell(0.1, 0.0, 0.2, 0.0)], spread=None)
    assert math.isnan(g.training_sd)
    assert math.isnan(g.training_share)
    assert g.sampling_share + g.rest_share == pytest.approx(1.0)


def test_cells_without_truth_or_interval_are_skipped() -> None:
    cells = [_cell(0.1, 0.0, 0.2, math.nan), _cell(0.1, math.nan, 0.2, 0.0, "likes")]
    assert len(decompose_gap(cells)) == 0
    with pytest.raises(AnalysisError, match=r"alpha == 0, must be in \(0, 1\)"):
        decompose_gap([], alpha=0)
