"""The sweep report: exact intervals, coverage, false-positive rates, lift by grid value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.errors import AnalysisError, SchemaError
from analysis.sweep_report import (
    SweepReportConfig,
    clopper_pearson,
    coverage_table,
    estimand_table,
    lift_by_parameter,
    lift_by_parameter_plot,
    ok_rows,
    rejection_table,
    write_sweep_report,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (9, 10), (10, 10), (47, 100), (3, 250)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_scipy(k: int, n: int, level: float) -> None:
    # Independent implementation: scipy.stats.binomtest(k, n).proportion_ci(level, "exact").
    ci = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    lo, hi = clopper_pearson(k, n, level)
    assert lo == pytest.approx(ci.low, abs=1e-10)
    assert hi == pytest.approx(ci.high, abs=1e-10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 0), r"n == 0, must be >= 1"),
        ((-1, 5), r"k == -1, must be in \[0, n\]"),
        ((6, 5), r"k == 6, must be in \[0, n\]"),
        ((1, 5, 1.0), r"level == 1.0, must be in \(0, 1\)"),
    ],
)
def test_clopper_pearson_rejects(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        clopper_pearson(*args)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 500), frac=st.floats(0, 1), level=st.floats(0.5, 0.999))
def test_clopper_pearson_contains_estimate_and_nests(n: int, frac: float, level: float) -> None:
    k = round(frac * n)
    lo, hi = clopper_pearson(k, n, level)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    wide = clopper_pearson(k, n, min(0.9999, level + (1 - level) / 2))
    assert wide[0] <= lo + 1e-12
    assert wide[1] >= hi - 1e-12


def _table(rng: np.random.Generator, n_runs: int, true: float, sd: float) -> pd.DataFrame:
    """A sweep-like table: normal estimates around ``true`` with 95% normal intervals."""
    rows = []
    for r in range(n_runs):
        for metric in ("likes", "duration"):
            for segment in ("new", "all"):
                est = true + sd * rng.standard_normal()
                z = (est - 0.0) / sd
                rows.append(
                    {
                        "run_id": f"r{r}",
                        "grid.k": 1 + r % 3,
                        "metric": metric,
                        "segment": segment,
                        "rel_effect_size": est,
                        "rel_effect_size_ci_lower": est - 1.959964 * sd,
                        "rel_effect_size_ci_upper": est + 1.959964 * sd,
                        "pvalue": 2 * scipy.stats.norm.sf(abs(z)),
                        "significant": False,
                        "true_rel_effect_size": true,
                        "status": "ok",
                    }
                )
    rows.append({"run_id": "bad", "grid.k": 1, "metric": None, "segment": None, "status": "failed"})
    return pd.DataFrame(rows)


def test_coverage_counts_by_hand() -> None:
    table = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "metric": ["m"] * 4,
            "segment": ["all"] * 4,
            "rel_effect_size": [0.1, 0.2, 0.3, 0.4],
            "rel_effect_size_ci_lower": [0.0, 0.15, 0.25, 0.0],
            "rel_effect_size_ci_upper": [0.2, 0.3, 0.35, 0.1],  # d's interval misses 0.12
            "pvalue": [0.5, 0.01, 0.04, 0.2],
            "true_rel_effect_size": [0.12, 0.2, np.nan, 0.12],  # c: unknown truth, skipped
            "status": ["ok", "ok", "ok", "ok"],
        }
    )
    undefined = table.iloc[[0]].assign(run_id="e", rel_effect_size_ci_lower=np.nan)
    cov = coverage_table(pd.concat([table, undefined])).iloc[0]
    assert (cov["n"], cov["n_covered"], cov["n_undefined"]) == (3, 2, 1)
    assert cov["coverage"] == pytest.approx(2 / 3)
    assert (cov["coverage_ci_lower"], cov["coverage_ci_upper"]) == pytest.approx(
        clopper_pearson(2, 3)
    )
    rej = rejection_table(table, alpha=0.05).iloc[0]
    assert (rej["n"], rej["n_rejected"]) == (4, 2)  # 0.01 and 0.04
    # Band by hand: scipy.stats.binom.ppf([0.025, 0.975], 4, 0.05) / 4 == [0, 0.25].
    assert (rej["band_lower"], rej["band_upper"]) == (0.0, 0.25)
    assert not rej["inside"]


def test_estimand_table_by_hand() -> None:
    gaps = {"own_arm": [0.10, -0.02, 0.04, 0.08], "pooled": [0.01, -0.01, 0.03, 0.05]}
    rows = []
    for design, gs in gaps.items():
        for i, g in enumerate(gs):
            truth = 0.02 * i
            rows.append(
                {
                    "run_id": f"{design}{i}",
                    "experiment.training_data": design,
                    "metric": "finishes",
                    "segment": "all",
                    "rel_effect_size": truth + g,
                    "rel_effect_size_ci_lower": truth + g - 0.05,
                    "rel_effect_size_ci_upper": truth + g + 0.05,
                    "pvalue": 0.5,
                    "true_rel_effect_size": truth,
                    "status": "ok",
                }
            )
    rows.append({**rows[0], "run_id": "x", "true_rel_effect_size": np.nan})  # no truth: out
    by = ("experiment.training_data", "metric", "segment")
    table = estimand_table(pd.DataFrame(rows), level=0.9, by=by).set_index(by[0])
    for design, gs in gaps.items():
        row = table.loc[design]
        g = np.array(gs)
        half = scipy.stats.t.ppf(0.95, 3) * g.std(ddof=1) / 2
        assert row["n_gap"] == 4
        assert row["bias"] == pytest.approx(g.mean(), abs=1e-15)
        assert (row["bias_ci_lower"], row["bias_ci_upper"]) == pytest.approx(
            (g.mean() - half, g.mean() + half), abs=1e-12
        )
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean(g**2)), rel=1e-12)
        assert row["mean_truth"] == pytest.approx(0.03)
        covered = int(np.sum(np.abs(g) <= 0.05))
        assert row["n_covered"] == covered
        assert (row["coverage_ci_lower"], row["coverage_ci_upper"]) == pytest.approx(
            clopper_pearson(covered, 4, 0.9)
        )


def test_rejection_band_is_the_exact_binomial_band() -> None:
    rng = np.random.default_rng(3)
    table = _table(rng, 200, true=0.0, sd=0.1)
    rej = rejection_table(table, alpha=0.05, level=0.95)
    assert set(rej["n"]) == {200}  # the failed run is dropped
    lo = scipy.stats.binom.ppf(0.025, 200, 0.05) / 200
    hi = scipy.stats.binom.ppf(0.975, 200, 0.05) / 200
    assert (rej["band_lower"] == lo).all()
    assert (rej["band_upper"] == hi).all()
    for r in rej.itertuples():
        g = table[(table["metric"] == r.metric) & (table["segment"] == r.segment)]
        assert r.n_rejected == int((g["pvalue"] < 0.05).sum())
        assert r.inside == (lo <= r.rate <= hi)


def test_calibrated_normal_sweep_covers_nominal() -> None:
    # A correct 95% interval: each group's coverage count is Binomial(400, 0.95); the 4
    # groups are independent, so all 4 inside the 99.9% band fails with prob < 0.4%.
    rng = np.random.default_rng(11)
    table = _table(rng, 400, true=0.05, sd=0.02)
    cov = coverage_table(table, alpha=0.05)
    lo, hi = (scipy.stats.binom.ppf(q, 400, 0.95) / 400 for q in (0.0005, 0.9995))
    assert cov["coverage"].between(lo, hi).all()
    biased = table.assign(true_rel_effect_size=0.05 + 0.04)  # the truth two sds away
    assert (coverage_table(biased)["coverage"] < lo).all()


def test_lift_by_parameter_means() -> None:
    rng = np.random.default_rng(5)
    table = _table(rng, 30, true=0.1, sd=0.05)
    by = lift_by_parameter(table, "grid.k")
    assert set(by["grid.k"]) == {1, 2, 3}
    ok = ok_rows(table)
    for r in by.itertuples():
        g = ok[(ok["grid.k"] == r[1]) & (ok["metric"] == r.metric) & (ok["segment"] == r.segment)]
        assert r.n == len(g)
        assert r.mean_rel_effect_size == pytest.approx(g["rel_effect_size"].mean())
        assert r.mean_true_rel_effect_size == pytest.approx(0.1)
    with pytest.raises(SchemaError, match=r"grid key 'nope' is not a column"):
        lift_by_parameter(table, "nope")


def test_ok_rows_needs_columns() -> None:
    with pytest.raises(SchemaError, match=r"lacks column\(s\) \['pvalue'"):
        ok_rows(
            pd.DataFrame(
                columns=[
                    "run_id",
                    "metric",
                    "segment",
                    "rel_effect_size",
                    "rel_effect_size_ci_lower",
                    "rel_effect_size_ci_upper",
                    "true_rel_effect_size",
                    "status",
                ]
            )
        )


def test_write_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    table = _table(rng, 12, true=0.05, sd=0.03)
    report = write_sweep_report(
        table, tmp_path, SweepReportConfig(grid_keys=("grid.k",), aa=False, title="T")
    )
    assert report.markdown.read_text().startswith("# T\n")
    names = {p.name for p in report.figures}
    assert names == {
        "estimates_vs_truth.png",
        "coverage.png",
        "rejections.png",
        "lift_by_grid.k.png",
        "estimand.png",
    }
    assert all(p.stat().st_size > 1000 for p in report.figures)
    assert report.figure_label_problems == {}
    summary = json.loads(report.summary.read_text())
    assert summary["n_runs"] == 13
    assert summary["status"] == {"ok": 12, "failed": 1}
    assert len(summary["coverage"]) == 4
    # Per grid value (3) and cell (4): what the A/B estimate estimates.
    assert len(summary["estimand"]) == 12
    assert "## What the A/B test estimates, by grid.k" in report.markdown.read_text()
    assert "13 runs" in report.headline


def test_write_report_with_a_string_valued_grid(tmp_path: Path) -> None:
    # A sweep over agent names (pandas 3 reads them as its "str" dtype, not object): the
    # lift plot puts the names on a categorical axis instead of failing to make floats.
    rng = np.random.default_rng(9)
    table = _table(rng, 12, true=0.05, sd=0.03)
    key = "arms.treatment.agent"
    table[key] = np.where(table["grid.k"] == 1, "popular", "oracle")
    report = write_sweep_report(
        table, tmp_path, SweepReportConfig(grid_keys=(key,), aa=False, title="T")
    )
    assert f"lift_by_{key}.png" in {p.name for p in report.figures}
    assert report.figure_label_problems == {}
    by = lift_by_parameter(table, key)
    figure = lift_by_parameter_plot(by, key)
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == ["oracle", "popular"]


def test_aa_report_without_truth(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    table = _table(rng, 20, true=0.0, sd=0.03).assign(true_rel_effect_size=np.nan)
    report = write_sweep_report(table, tmp_path, SweepReportConfig(aa=True))
    assert report.coverage.empty
    assert {p.name for p in report.figures} == {"rejections.png"}
    assert "False-positive rate (A/A)" in report.markdown.read_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, r"alpha == 0.0, must be in \(0, 1\)"),
        ({"level": 1.5}, r"level == 1.5, must be in \(0, 1\)"),
    ],
)
def test_config_rejects(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        SweepReportConfig(**kwargs)  # type: ignore[arg-type]


def test_imports_no_simulator_or_torch() -> None:
    code = (
        "import sys, analysis.sweep_report; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('simulator', 'agents', 'torch', "
        "'adaf2m2')]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
