"""Benchmark: ``adasim sweep`` backends on 8 small runs (serial, process, ray).

The runs are 8 replicates of ``configs/sweep_aa.toml`` (600 users, 1 + 2 days, two
learning two-stage arms). Each backend starts from an empty sweep directory; the
``process`` backend and a local Ray instance get ``--workers`` CPUs. Reported: wall time,
the CPU time of this process and its children (Ray's workers are not children of this
process, so their CPU is not counted), the load average before and after each backend
(the machine may be shared), the speed-up of ``process`` over ``serial`` and Ray's
overhead over ``process``, and whether all backends gave the identical table.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--runs 8] [--workers 2] [--no-ray]``.
Prints a table and writes ``benchmarks/results/bench_sweep.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from adasim.jobs.sweep_backends import BackendName, run_sweep
from simulator.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def bench(
    backend: BackendName, runs: int, workers: int, tmp: Path
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run the sweep once on ``backend``; return its timings and its table."""
    config = load_config(ROOT / "configs" / "sweep_aa.toml")
    out = tmp / backend
    shutil.rmtree(out, ignore_errors=True)
    load_before, cpu0 = _load(), _cpu()
    t0 = time.perf_counter()
    result = run_sweep(
        config,
        [],
        runs,
        out,
        backend=backend,
        workers=workers,
        prune=True,
        progress=False,
    )
    wall = time.perf_counter() - t0
    record = {
        "backend": backend,
        "workers": 1 if backend == "serial" else workers,
        "wall_seconds": wall,
        "cpu_seconds_self_and_children": _cpu() - cpu0,
        "load_before": load_before,
        "load_after": _load(),
        "n_failed": result.n_failed,
    }
    return record, result.table


def ray_start_seconds(workers: int) -> float:
    """Wall time of starting and stopping an empty local Ray instance."""
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    ray.shutdown()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "bench_sweep.json")
    )
    args = parser.parse_args()
    backends: list[BackendName] = ["serial", "process"]
    has_ray = importlib.util.find_spec("ray") is not None
    if has_ray and not args.no_ray:
        backends.append("ray")
    records, tables = [], {}
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for backend in backends:
            rec, table = bench(backend, args.runs, args.workers, Path(tmp))
            records.append(rec)
            tables[backend] = table
            print(
                f"{backend:>8}: {rec['wall_seconds']:7.1f} s wall, "
                f"{rec['cpu_seconds_self_and_children']:7.1f} s CPU (self+children), "
                f"load {rec['load_before']:.1f} -> {rec['load_after']:.1f}"
            )
    by = {r["backend"]: r for r in records}
    identical = {b: bool(tables[b].equals(tables["serial"])) for b in tables}
    result: dict[str, Any] = {
        "benchmark": "bench_sweep",
        "config": "configs/sweep_aa.toml",
        "runs": args.runs,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "records": records,
        "speedup_process_over_serial": by["serial"]["wall_seconds"] / by["process"]["wall_seconds"],
        "target_speedup": 1.7,
        "tables_identical_to_serial": identical,
    }
    if "ray" in by:
        result["ray_overhead_over_process"] = (
            by["ray"]["wall_seconds"] / by["process"]["wall_seconds"] - 1.0
        )
        result["speedup_ray_over_serial"] = by["serial"]["wall_seconds"] / by["ray"]["wall_seconds"]
        result["ray_start_stop_seconds"] = ray_start_seconds(args.workers)
    print(
        f"speed-up process/serial: {result['speedup_process_over_serial']:.2f}x "
        f"(target 1.7x); tables identical: {identical}"
    )
    if "ray" in by:
        print(
            f"ray: {result['speedup_ray_over_serial']:.2f}x over serial, "
            f"{100 * result['ray_overhead_over_process']:+.1f}% wall vs process; "
            f"empty local Ray start+stop {result['ray_start_stop_seconds']:.1f} s"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
