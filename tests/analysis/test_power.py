"""Power and MDE against statsmodels' NormalIndPower; pre-period MDE table."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.power import NormalIndPower

from analysis.errors import AnalysisError, SchemaError
from analysis.metrics import user_metrics
from analysis.power import mde, mde_from_pre_period, power_for_effect
from analysis.synthetic import SyntheticLogConfig, synthetic_log


@pytest.mark.parametrize(
    ("d", "std", "n_c", "n_t"), [(0.2, 1.0, 400, 400), (3.0, 20.0, 1000, 3000)]
)
def test_power_matches_statsmodels(d: float, std: float, n_c: int, n_t: int) -> None:
    ref = NormalIndPower().power(effect_size=d / std, nobs1=n_c, alpha=0.05, ratio=n_t / n_c)
    assert power_for_effect(d, std, n_c, n_t) == pytest.approx(ref, rel=1e-10)


def test_mde_inverts_power() -> None:
    m = mde(2.0, 500, 700, alpha=0.05, power=0.8)
    # MDE ignores the far rejection tail, so power(MDE) exceeds the target by exactly that
    # tail: Phi(-(z_a + z_b) - z_a).
    z_a, z_b = scipy.stats.norm.ppf(0.975), scipy.stats.norm.ppf(0.8)
    far_tail = scipy.stats.norm.cdf(-(z_a + z_b) - z_a)
    assert power_for_effect(m, 2.0, 500, 700) - 0.8 == pytest.approx(far_tail, rel=1e-6)
    # statsmodels' root finder (two tails) agrees to its own tolerance.
    ref = NormalIndPower().solve_power(nobs1=500, alpha=0.05, power=0.8, ratio=700 / 500)
    assert m / 2.0 == pytest.approx(ref, rel=1e-4)


def test_mde_from_pre_period() -> None:
    cfg = SyntheticLogConfig(n_users=800, n_days=5, pre_days=5)
    events, users = synthetic_log(cfg, rng=2)
    t = user_metrics(events, users, cfg.window)
    rc = mde_from_pre_period(t, ["active_days", "finish_rate"])
    r = next(x for x in rc if x.metric == "active_days" and x.segment == "all")
    pre = t.loc[t["has_pre"], "pre_active_days"]
    assert r.baseline == pytest.approx(pre.mean())
    assert r.std == pytest.approx(pre.std(ddof=1))
    assert r.rel_mde == pytest.approx(r.mde / r.baseline)
    assert r.n_pre_users == len(pre)
    new_rows = [x for x in rc if x.segment == "new"]
    assert all(x.n_pre_users >= 0 for x in new_rows)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: power_for_effect(0.1, 1.0, 0, 10), AnalysisError, "n_control == 0"),
        (lambda: power_for_effect(0.1, -1.0, 10, 10), AnalysisError, "std == -1.0"),
        (lambda: mde(1.0, 10, 10, alpha=2.0), AnalysisError, "alpha == 2.0"),
        (lambda: mde(1.0, 10, 10, power=1.0), AnalysisError, "power == 1.0"),
        (
            lambda: mde_from_pre_period(__import__("pandas").DataFrame({"arm": ["a"]})),
            SchemaError,
            "has_pre",
        ),
    ],
)
def test_invalid_input(call: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()  # type: ignore[operator]


def test_zero_std_is_documented() -> None:
    assert power_for_effect(0.1, 0.0, 10, 10) == 1.0
    assert power_for_effect(0.0, 0.0, 10, 10) == 0.05
    assert np.isfinite(mde(0.0, 10, 10))
