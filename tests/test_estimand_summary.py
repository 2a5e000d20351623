"""scripts/estimand_summary.py: the estimand doc's tables from a sweep report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.sweep_report import SweepReportConfig, write_sweep_report

ROOT = Path(__file__).resolve().parents[1]
KEY = "experiment.training_data"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "estimand_summary", ROOT / "scripts" / "estimand_summary.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sweep(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    rows = []
    # own_arm: unbiased estimates with honest intervals; pooled: shifted by +0.1.
    noise = 0.02 * rng.standard_normal(30)
    for design, shift in (("own_arm", 0.0), ("pooled", 0.1)):
        for r in range(30):
            est = shift + noise[r]  # common random numbers: the same noise in both designs
            rows.append(
                {
                    "run_id": f"{design}{r}",
                    KEY: design,
                    "replicate": r,
                    "metric": "finishes",
                    "segment": "all",
                    "rel_effect_size": est,
                    "rel_effect_size_ci_lower": est - 0.04,
                    "rel_effect_size_ci_upper": est + 0.04,
                    "pvalue": 0.5,
                    "true_rel_effect_size": 0.0,
                    "status": "ok",
                }
            )
    table = pd.DataFrame(rows)
    write_sweep_report(table, tmp_path, SweepReportConfig(grid_keys=(KEY,)))
    table.to_parquet(tmp_path / "table.parquet")
    return tmp_path


def test_tables_name_the_biased_design(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main([str(_sweep(tmp_path))]) == 0
    out = capsys.readouterr().out
    summary = {line.split("|")[1].strip(): line for line in out.splitlines() if "`" in line}
    # pooled: the bias interval excludes 0 and the coverage misses the nominal rate.
    assert "| `pooled` | 1 | 0 | 0% (0%-0%) | 1 |" in summary["`pooled`"]
    assert "| `own_arm` | 1 | 1 |" in summary["`own_arm`"]
    assert "finishes / all" in out
    assert "0/30 **x**" in out
    # Paired by replicate, the design's shift is exact: +10 pp with a zero-width interval.
    assert "| finishes / all | +10.00 pp [+10.00, +10.00] (n=30) |" in out


def test_a_missing_report_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "report.json does not exist" in err
