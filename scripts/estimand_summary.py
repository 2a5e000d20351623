"""Markdown tables of an estimand sweep: per training-data design, bias and coverage by cell.

Reads the ``estimand`` table of a sweep report (``SWEEP_DIR/report.json``, written by
``adasim sweep`` over ``--grid experiment.training_data=...``) and prints, for
``docs/results/estimand.md``:

* per design, over the 18 metric x cohort cells: the cells whose Clopper-Pearson interval
  holds the nominal coverage, the median and the range of the coverage, the cells whose
  bias interval excludes 0, and the median |bias| and RMSE;
* per cell, one column per design: ``bias [t interval]`` and ``coverage k/n``;
* per cell, each design's estimate minus the first design's, paired by replicate (the
  designs share every replicate's seed), from ``SWEEP_DIR/table.parquet``.

    python scripts/estimand_summary.py runs/sweep_estimand
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from analysis.mean_interval import mean_interval

KEY = "experiment.training_data"


def _pct(v: float) -> str:
    return f"{100 * v:+.1f}%"


def summary_table(estimand: pd.DataFrame) -> str:
    """One row per design: coverage and bias over the cells."""
    lines = [
        "| design | cells | nominal 95% inside the coverage CI | coverage median (min-max) "
        "| bias CI excludes 0 | median abs(bias) | median RMSE |",
        "|---|---|---|---|---|---|---|",
    ]
    for design, g in estimand.groupby(KEY, sort=False):
        biased = (g["bias_ci_lower"] > 0) | (g["bias_ci_upper"] < 0)
        lines.append(
            f"| `{design}` | {len(g)} | {int(g['consistent'].sum())} "
            f"| {g['coverage'].median():.0%} ({g['coverage'].min():.0%}-"
            f"{g['coverage'].max():.0%}) | {int(biased.sum())} "
            f"| {100 * g['bias'].abs().median():.1f} pp | {100 * g['rmse'].median():.1f} pp |"
        )
    return "\n".join(lines)


def cell_table(estimand: pd.DataFrame) -> str:
    """One row per cell, one column per design: bias [CI] and coverage k/n."""
    designs = list(dict.fromkeys(estimand[KEY]))
    head = "| cell | " + " | ".join(f"`{d}`" for d in designs) + " |"
    lines = [head, "|---|" + "---|" * len(designs)]
    cells = list(dict.fromkeys(zip(estimand["metric"], estimand["segment"], strict=True)))
    by = estimand.set_index([KEY, "metric", "segment"])
    for metric, segment in cells:
        row = [f"{metric} / {segment}"]
        for d in designs:
            if (d, metric, segment) not in by.index:
                row.append("")
                continue
            r = by.loc[(d, metric, segment)]
            mark = "" if r["consistent"] else " **x**"
            row.append(
                f"{_pct(r['bias'])} [{_pct(r['bias_ci_lower'])}, {_pct(r['bias_ci_upper'])}]; "
                f"{int(r['n_covered'])}/{int(r['n'])}{mark}"
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def paired_table(table: pd.DataFrame, level: float = 0.95) -> str:
    """Each design's A/B estimate minus the first design's, replicate by replicate.

    The grid's cells share every replicate's seed (common random numbers: the same world,
    the same users, the same twin truth), so the paired difference isolates what the
    design alone does to the estimate, without the sampling error both runs share. Per
    cell: the mean difference in percentage points with its Student-t interval.
    """
    ok = table[(table["status"] == "ok") & table["rel_effect_size"].notna()]
    designs = list(dict.fromkeys(ok[KEY]))
    reference, others = designs[0], designs[1:]
    wide = ok.pivot_table(
        index=["metric", "segment", "replicate"], columns=KEY, values="rel_effect_size"
    )
    head = "| cell | " + " | ".join(f"`{d}` - `{reference}`" for d in others) + " |"
    lines = [head, "|---|" + "---|" * len(others)]
    cells = list(dict.fromkeys(zip(ok["metric"], ok["segment"], strict=True)))
    for metric, segment in cells:
        block = wide.loc[(metric, segment)]
        row = [f"{metric} / {segment}"]
        for d in others:
            diff = (block[d] - block[reference]).dropna().to_numpy(float) if d in block else []
            m = mean_interval(diff, level)
            if m.n < 2:
                row.append("")
                continue
            row.append(
                f"{100 * m.mean:+.2f} pp [{100 * m.lower:+.2f}, {100 * m.upper:+.2f}] (n={m.n})"
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a finished sweep over " + KEY)
    args = parser.parse_args(argv)
    path = args.sweep_dir / "report.json"
    if not path.is_file():
        print(f"estimand_summary: {path} does not exist (run adasim sweep first)", file=sys.stderr)
        return 2
    estimand = pd.DataFrame(json.loads(path.read_text())["estimand"])
    if estimand.empty or KEY not in estimand.columns:
        print(f"estimand_summary: {path} has no estimand table over {KEY}", file=sys.stderr)
        return 2
    print(summary_table(estimand))
    print()
    print(cell_table(estimand))
    runs = args.sweep_dir / "table.parquet"
    if runs.is_file():
        print()
        print(paired_table(pd.read_parquet(runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
