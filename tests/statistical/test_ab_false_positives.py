"""Slow Monte-Carlo checks of the A/B statistics (``make test-slow``).

A/A: re-randomise one fixed per-user table 2,000 times; for every metric, with and without
CUPED, the share of rounds with ``p < 0.05`` must fall inside the exact binomial 99%
acceptance band of Binomial(2000, 0.05) / 2000 = [0.038, 0.063].

Known effect: multiply the treatment numerators by 1.05; the absolute and relative
intervals must cover the true effect in a share of rounds inside the band of
Binomial(2000, 0.95).

The table comes from the synthetic log (heavy-tailed activity, 20% users arriving during
the test, a pre-period) with one fixed seed chosen before looking at any result.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.harness import rerandomise
from analysis.metrics import user_metrics
from analysis.schema import DEFAULT_METRICS
from analysis.synthetic import SyntheticLogConfig, synthetic_log

pytestmark = pytest.mark.slow

N_ROUNDS = 2000
SEED = 20261129


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    cfg = SyntheticLogConfig(n_users=20_000, n_days=14, pre_days=7)
    events, users = synthetic_log(cfg, rng=SEED)
    return user_metrics(events, users, cfg.window)


@pytest.mark.parametrize("cuped", [False, True])
def test_aa_false_positive_rate_in_band(table: pd.DataFrame, cuped: bool) -> None:
    rc = rerandomise(table, None, n_rounds=N_ROUNDS, cuped=cuped, rng=SEED + 1)
    print(f"\n{rc}")
    assert [r.metric for r in rc] == [m.name for m in DEFAULT_METRICS]
    for r in rc:
        assert r.cuped == cuped
        assert r.fpr_inside_band, (
            r.metric,
            r.rejection_rate,
            r.rejection_band_lower,
            r.rejection_band_upper,
        )


def test_known_effect_coverage_in_band(table: pd.DataFrame) -> None:
    rc = rerandomise(table, None, n_rounds=N_ROUNDS, rel_effect=0.05, cuped=True, rng=SEED + 2)
    print(f"\n{rc}")
    for r in rc:
        assert r.coverage_inside_band, (r.metric, r.coverage)
        assert r.coverage_band_lower <= r.rel_coverage <= r.coverage_band_upper, (
            r.metric,
            r.rel_coverage,
        )
        assert r.rejection_rate > r.alpha  # a real effect is found more often than alpha
