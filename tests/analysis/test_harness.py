"""The re-randomisation harness: same numbers as compare() for a fixed assignment, bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from analysis.abtest import ABConfig, compare
from analysis.errors import AnalysisError
from analysis.harness import aa_peeking, binomial_band, rerandomise, round_statistics
from analysis.metrics import daily_user_metrics, user_metrics
from analysis.synthetic import SyntheticLogConfig, synthetic_log


@pytest.fixture(scope="module")
def log() -> tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig]:
    cfg = SyntheticLogConfig(n_users=600, n_days=5, pre_days=4)
    events, users = synthetic_log(cfg, rng=9)
    return events, users, cfg


@pytest.mark.parametrize("cuped", [False, True])
def test_round_statistics_equal_compare(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig], cuped: bool
) -> None:
    events, users, cfg = log
    table = user_metrics(events, users, cfg.window)
    rng = np.random.default_rng(5)
    assign = rng.random((3, len(table))) < 0.5
    stats = round_statistics(table, None, [assign], cuped=cuped)
    for k in range(3):
        relabelled = table.assign(arm=np.where(assign[k], "treatment", "control"))
        rc = compare(relabelled, None, ABConfig(cuped=cuped, correction="none", segments=("all",)))
        for r in rc:
            w = stats[r.metric].welch
            assert float(w.pvalue[k]) == pytest.approx(r.pvalue, rel=1e-8, abs=1e-12), r.metric
            assert float(w.effect_size[k]) == pytest.approx(r.effect_size, rel=1e-8, abs=1e-10)


def test_injected_effect_is_exact_on_the_values(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig],
) -> None:
    events, users, cfg = log
    table = user_metrics(events, users, cfg.window)
    assign = np.zeros((1, len(table)), dtype=bool)
    assign[0, ::2] = True
    stats = round_statistics(table, ["duration"], [assign], rel_effect=0.1, cuped=False)
    y = table["duration"].to_numpy()
    treated = y[assign[0]] * 1.1
    ref = scipy.stats.ttest_ind(treated, y[~assign[0]], equal_var=False)
    assert float(stats["duration"].welch.pvalue[0]) == pytest.approx(ref.pvalue, rel=1e-9)
    assert stats["duration"].true_effect == pytest.approx(0.1 * y.mean())


def test_binomial_band_matches_scipy() -> None:
    lo, hi = binomial_band(2000, 0.05)
    assert lo == scipy.stats.binom.ppf(0.005, 2000, 0.05) / 2000
    assert hi == scipy.stats.binom.ppf(0.995, 2000, 0.05) / 2000


def test_rerandomise_small_and_reproducible(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig],
) -> None:
    events, users, cfg = log
    table = user_metrics(events, users, cfg.window)
    a = rerandomise(table, ["likes", "finish_rate"], n_rounds=60, rng=1)
    b = rerandomise(table, ["likes", "finish_rate"], n_rounds=60, rng=1)
    assert a.to_dicts() == b.to_dicts()
    assert all(0 <= r.rejection_rate <= 1 for r in a)
    assert a[0].seed == 1


def test_peeking_runs(log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig]) -> None:
    events, users, cfg = log
    daily = daily_user_metrics(events, users, cfg.window, ("active_days",))
    r = aa_peeking(daily, "active_days", n_rounds=50, rng=0)
    assert r.n_looks == 5
    assert r.sequential_fpr <= r.naive_fpr


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_rounds": 0}, "n_rounds == 0"),
        ({"treatment_share": 1.0}, "treatment_share == 1.0"),
        ({"rel_effect": -1.0}, "rel_effect == -1.0"),
    ],
)
def test_invalid_input(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig], kwargs: dict[str, float], match: str
) -> None:
    events, users, cfg = log
    table = user_metrics(events, users, cfg.window)
    with pytest.raises(AnalysisError, match=match):
        rerandomise(table, ["likes"], **kwargs)  # type: ignore[arg-type]
