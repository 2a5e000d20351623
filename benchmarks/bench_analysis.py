"""Benchmark: A/B statistics for 1,000,000 users, 8 metrics, 3 segments, with CUPED.

Times :func:`analysis.abtest.compare` (Welch + log-scale relative interval + CUPED with a
missing-pre-period indicator + Holm, for segments all/new/old) on one core, side by side
with the same computation through statsmodels (OLS for the CUPED coefficient on both arms
pooled, then ``CompareMeans.ttest_ind(usevar="unequal")`` and ``tconfint_diff`` on the
adjusted per-user values), and checks that both give the same p-values.

Run: ``.venv/bin/python benchmarks/bench_analysis.py [--n-users N] [--repeats R]``.
Prints a table and writes ``benchmarks/results/bench_analysis.json``.
"""

from __future__ import annotations

import os

# One core: BLAS threads are fixed before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW  # noqa: E402

from analysis.abtest import ABConfig, compare  # noqa: E402
from analysis.schema import COUNT_COLUMNS  # noqa: E402

SEGMENTS = ("all", "new", "old")


def make_table(n_users: int, seed: int = 0) -> pd.DataFrame:
    """A per-user table like ``user_metrics`` returns: heavy-tailed counts, pre-period."""
    rng = np.random.default_rng(seed)
    activity = rng.gamma(0.6, 2.0, size=n_users)
    new = rng.random(n_users) < 0.2
    treat = rng.random(n_users) < 0.5
    data: dict[str, np.ndarray] = {
        "arm": np.where(treat, "treatment", "control"),
        "cohort": np.where(new, "new", "old"),
        "has_pre": ~new,
    }
    for i, col in enumerate(COUNT_COLUMNS):
        scale = 1.0 + 3.0 * i
        data[col] = rng.poisson(activity * scale).astype(np.float64)
        pre = rng.poisson(activity * scale * 0.5).astype(np.float64)
        data[f"pre_{col}"] = np.where(new, 0.0, pre)
    return pd.DataFrame(data)


def run_ours(table: pd.DataFrame) -> tuple[float, float, np.ndarray]:
    """Wall seconds, CPU seconds (this process, one thread) and the p-values."""
    cfg = ABConfig(segments=SEGMENTS, cuped=True, correction="holm")
    start, cpu = time.perf_counter(), time.process_time()
    rc = compare(table, list(COUNT_COLUMNS), cfg)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, np.array([r.pvalue for r in rc])


def run_statsmodels(table: pd.DataFrame) -> tuple[float, float, np.ndarray]:
    """Wall seconds, CPU seconds and the p-values of the statsmodels pipeline."""
    start, cpu = time.perf_counter(), time.process_time()
    pvalues = []
    arm = table["arm"].to_numpy()
    cohort = table["cohort"].to_numpy()
    for col in COUNT_COLUMNS:
        for seg in SEGMENTS:
            mask = np.ones(len(table), bool) if seg == "all" else cohort == seg
            y = table[col].to_numpy()[mask]
            has_pre = table["has_pre"].to_numpy()[mask].astype(np.float64)
            pre = table[f"pre_{col}"].to_numpy()[mask]
            covs = []
            if has_pre.any():
                covs.append(pre)
                if not has_pre.all():
                    covs.append(has_pre)
            if covs:
                x = np.column_stack(covs)
                theta = sm.OLS(y, sm.add_constant(x)).fit().params[1:]
                y = y - (x - x.mean(axis=0)) @ theta
            a = arm[mask]
            cm = CompareMeans(DescrStatsW(y[a == "treatment"]), DescrStatsW(y[a == "control"]))
            _, p, _ = cm.ttest_ind(usevar="unequal")
            cm.tconfint_diff(usevar="unequal")
            pvalues.append(p)
    return time.perf_counter() - start, time.process_time() - cpu, np.asarray(pvalues)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-users", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "bench_analysis.json")
    )
    args = parser.parse_args()

    table = make_table(args.n_users)
    ours = [run_ours(table) for _ in range(args.repeats)]
    sm_runs = [run_statsmodels(table) for _ in range(max(1, args.repeats // 3))]
    t_ours = min(r[0] for r in ours)
    t_sm = min(r[0] for r in sm_runs)
    cpu_ours = min(r[1] for r in ours)
    cpu_sm = min(r[1] for r in sm_runs)
    p_ours, p_sm = ours[0][2], sm_runs[0][2]
    max_diff = float(np.max(np.abs(p_ours - p_sm)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result = {
        "benchmark": "bench_analysis",
        "n_users": args.n_users,
        "n_metrics": len(COUNT_COLUMNS),
        "segments": list(SEGMENTS),
        "cuped": True,
        "threads": 1,
        "adasim_wall_seconds_best": t_ours,
        "adasim_wall_seconds_all": [r[0] for r in ours],
        "adasim_cpu_seconds_best": cpu_ours,
        "statsmodels_wall_seconds_best": t_sm,
        "statsmodels_wall_seconds_all": [r[0] for r in sm_runs],
        "statsmodels_cpu_seconds_best": cpu_sm,
        "speedup_wall": t_sm / t_ours,
        "speedup_cpu": cpu_sm / cpu_ours,
        "target_seconds": 1.0,
        "meets_target_wall": t_ours < 1.0,
        "max_abs_pvalue_difference": max_diff,
        "load_average_1min": load,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(
        f"users={args.n_users:,}  metrics={len(COUNT_COLUMNS)}  segments={len(SEGMENTS)}  "
        f"CUPED, 1 thread, load average {load:.1f}"
    )
    print(f"{'implementation':<14} {'wall s':>8} {'cpu s':>8}  wall runs")
    print(f"{'adasim':<14} {t_ours:8.3f} {cpu_ours:8.3f}  {[round(r[0], 3) for r in ours]}")
    print(f"{'statsmodels':<14} {t_sm:8.3f} {cpu_sm:8.3f}  {[round(r[0], 3) for r in sm_runs]}")
    print(
        f"speed-up {t_sm / t_ours:.1f}x wall, {cpu_sm / cpu_ours:.1f}x cpu; target < 1 s wall: "
        f"{'met' if t_ours < 1.0 else 'MISSED'}; max |p_adasim - p_statsmodels| = {max_diff:.2e}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
