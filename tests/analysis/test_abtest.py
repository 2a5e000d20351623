"""compare / analyze_experiment against scipy on per-user values, and the bad-input table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.stats.multitest import multipletests

from analysis.abtest import ABConfig, analyze_experiment, compare
from analysis.errors import AnalysisError, InsufficientDataError, SchemaError
from analysis.metrics import user_metrics
from analysis.synthetic import SyntheticLogConfig, synthetic_log


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    cfg = SyntheticLogConfig(n_users=1500, n_days=7, pre_days=5, return_lift=0.1)
    events, users = synthetic_log(cfg, rng=11)
    return user_metrics(events, users, cfg.window)


def _segment(table: pd.DataFrame, seg: str) -> pd.DataFrame:
    return table if seg == "all" else table.loc[table["cohort"] == seg]


@pytest.mark.parametrize("segment", ["all", "new", "old"])
def test_without_cuped_equals_scipy_welch(table: pd.DataFrame, segment: str) -> None:
    rc = compare(table, ["duration", "likes"], ABConfig(cuped=False, correction="none"))
    sub = _segment(table, segment)
    for r in rc.filter(lambda r: r.segment == segment):
        y = sub[r.metric].to_numpy()
        arm = sub["arm"].to_numpy()
        ref = scipy.stats.ttest_ind(y[arm == "treatment"], y[arm == "control"], equal_var=False)
        assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
        assert r.effect_size / r.se == pytest.approx(ref.statistic, rel=1e-10)
        assert r.n_control == int((arm == "control").sum())


def test_cuped_with_new_users_equals_ols_adjusted_welch(table: pd.DataFrame) -> None:
    # Users without a pre-period get covariate 0 and a has_pre indicator: theta is the OLS
    # slope of y on (pre_y, has_pre) on both arms pooled (numpy lstsq with intercept).
    rc = compare(table, ["active_days"], ABConfig(correction="none", segments=("all",)))
    r = rc[0]
    assert r.cuped
    assert "have no pre-period" in r.note
    y = table["active_days"].to_numpy(float)
    x = np.c_[table["pre_active_days"].to_numpy(float), table["has_pre"].to_numpy(float)]
    design = np.c_[np.ones(len(y)), x]
    theta = np.linalg.lstsq(design, y, rcond=None)[0][1:]
    adj = y - (x - x.mean(axis=0)) @ theta
    arm = table["arm"].to_numpy()
    ref = scipy.stats.ttest_ind(adj[arm == "treatment"], adj[arm == "control"], equal_var=False)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.control == pytest.approx(adj[arm == "control"].mean(), rel=1e-10)
    assert r.var_reduction > 0.2


def test_segment_without_pre_period_has_no_covariate_and_says_so(table: pd.DataFrame) -> None:
    arrived_during_test = table.loc[~table["has_pre"]]
    r = compare(arrived_during_test, ["active_days"], ABConfig(segments=("all",)))[0]
    assert not r.cuped
    assert "no user in the segment has a pre-period" in r.note


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_correction_across_metrics_and_segments(table: pd.DataFrame, method: str) -> None:
    rc = compare(table, None, ABConfig(correction=method))  # type: ignore[arg-type]
    p = np.array([r.pvalue for r in rc])
    ref = multipletests(p, method={"holm": "holm", "bh": "fdr_bh"}[method])[1]
    np.testing.assert_allclose([r.pvalue_adjusted for r in rc], ref, rtol=1e-12)
    assert len(rc) == 10 * 3


def test_column_segments(table: pd.DataFrame) -> None:
    rc = compare(table, ["likes"], ABConfig(segments=("all", "device"), cuped=False))
    assert [r.segment for r in rc] == ["all", "device=0", "device=1", "device=2"]
    by = {r.segment: r for r in rc}
    sub = table.loc[table["device"] == 1]
    assert by["device=1"].n_control + by["device=1"].n_treatment == len(sub)


def test_analyze_experiment_parts(table: pd.DataFrame) -> None:
    a = analyze_experiment(table, ["active_days", "finish_rate"])
    assert [s.segment for s in a.srm] == ["all", "new", "old"]
    assert [d.metric for d in a.segment_diffs] == ["active_days", "finish_rate"]
    d = a.segment_diffs[0]
    by = {(r.metric, r.segment): r for r in a.effects}
    new, old = by[("active_days", "new")], by[("active_days", "old")]
    assert d.effect_size == pytest.approx(new.effect_size - old.effect_size)
    z = d.effect_size / np.hypot(new.se, old.se)
    assert d.pvalue == pytest.approx(2 * scipy.stats.norm.sf(abs(z)), rel=1e-10)


def _tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arm": ["control", "control", "control", "treatment", "treatment", "treatment"],
            "likes": [1.0, 2.0, 3.0, 2.0, 3.0, 5.0],
            "cohort": ["old", "old", "new", "old", "old", "old"],
        }
    )


BAD_INPUT = [
    # (table, metrics, config, exception, message pattern)
    (
        _tiny().assign(arm="control"),
        ["likes"],
        ABConfig(cuped=False),
        InsufficientDataError,
        "arm 'treatment' has 0 users",
    ),
    (
        _tiny().iloc[[0, 3, 4]],
        ["likes"],
        ABConfig(cuped=False, segments=("all",)),
        InsufficientDataError,
        "n_control == 1",
    ),
    (_tiny(), ["likes"], ABConfig(cuped=False), InsufficientDataError, "segment 'new'"),
    (
        _tiny().assign(likes=[1.0, np.nan, 3.0, 2.0, 3.0, 5.0]),
        ["likes"],
        ABConfig(cuped=False),
        AnalysisError,
        "1 NaN",
    ),
    (
        _tiny().drop(columns=["likes"]),
        ["likes"],
        ABConfig(cuped=False),
        SchemaError,
        "missing columns \\['likes'\\]",
    ),
    (
        _tiny().assign(likes=list("abcdef")),
        ["likes"],
        ABConfig(cuped=False),
        SchemaError,
        "must be numeric",
    ),
    (_tiny(), ["clicks"], ABConfig(cuped=False), AnalysisError, "metric 'clicks' is unknown"),
    (
        _tiny(),
        ["likes"],
        ABConfig(cuped=False, segments=("country",)),
        SchemaError,
        "segment column 'country'",
    ),
]


@pytest.mark.parametrize(("frame", "metrics", "config", "exc", "match"), BAD_INPUT)
def test_bad_input(
    frame: pd.DataFrame, metrics: list[str], config: ABConfig, exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        compare(frame, metrics, config)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, "alpha == 0.0"),
        ({"treatment": "control"}, "must differ"),
        ({"correction": "bonferroni"}, "correction == 'bonferroni'"),
        ({"rel_ci": "wald"}, "rel_ci == 'wald'"),
        ({"segments": ()}, "segments == \\(\\)"),
        ({"on_small_segment": "skip"}, "on_small_segment == 'skip'"),
    ],
)
def test_config_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        ABConfig(**kwargs)  # type: ignore[arg-type]


def test_small_segment_documented_as_nan_row() -> None:
    rc = compare(_tiny(), ["likes"], ABConfig(cuped=False, on_small_segment="nan"))
    new = next(r for r in rc if r.segment == "new")
    assert np.isnan(new.pvalue)
    assert "need >= 2 each" in new.note
    assert not np.isnan(next(r for r in rc if r.segment == "old").pvalue)


def test_zero_variance_is_documented() -> None:
    frame = _tiny().assign(likes=[2.0, 2.0, 2.0, 3.0, 3.0, 3.0])
    r = compare(frame, ["likes"], ABConfig(cuped=False, segments=("all",)))[0]
    assert r.pvalue == 0.0
    assert r.effect_size == 1.0
    assert "zero variance" in r.note
