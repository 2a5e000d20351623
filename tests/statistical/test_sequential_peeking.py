"""Slow check: daily looks inflate the naive test's false positives, not the sequential ones.

A/A on a 14-day synthetic log, 2,000 re-randomisations, cumulative daily looks. The
always-valid (mSPRT) false-positive rate must not exceed the upper end of the exact
binomial 99% band of alpha = 0.05 ([0.038, 0.063]); the naive daily Welch test, stopped at
the first p < 0.05, must exceed it. The mSPRT is conservative with 14 discrete looks (its
rate is far below alpha), which is the price of validity at every look. The
group-sequential test (Lan-DeMets O'Brien-Fleming-type spending by calendar fraction over
the 14 planned looks, look correlation estimated from each round's own users) spends
exactly alpha over those looks, so its daily-peeking rate must lie inside the two-sided
band. The final-look-only Welch rate is checked against the band as a control.
"""

from __future__ import annotations

import pytest

from analysis.harness import aa_peeking
from analysis.metrics import DailyTable, daily_user_metrics
from analysis.synthetic import SyntheticLogConfig, synthetic_log

pytestmark = pytest.mark.slow

SEED = 20261130


@pytest.fixture(scope="module")
def daily() -> DailyTable:
    cfg = SyntheticLogConfig(n_users=20_000, n_days=14, pre_days=0)
    events, users = synthetic_log(cfg, rng=SEED)
    return daily_user_metrics(
        events, users, cfg.window, ("active_days", "duration", "finishes", "likes")
    )


@pytest.mark.parametrize("metric", ["active_days", "duration", "finishes", "likes"])
def test_daily_peeking(daily: DailyTable, metric: str) -> None:
    r = aa_peeking(daily, metric, n_rounds=2000, rng=SEED + 1)
    print(f"\n{r}")
    assert r.n_looks == 14
    assert r.sequential_fpr <= r.band_upper, r
    assert r.band_lower <= r.gst_fpr <= r.band_upper, r
    assert r.naive_fpr > r.band_upper, r
    assert r.band_lower <= r.final_look_fpr <= r.band_upper, r
