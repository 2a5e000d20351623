"""Benchmark: the whole main job (``adasim run``), this checkout against another commit.

Issue 18's first target is the wall time of ``make run`` and its CPU seconds per 1,000
impressions, compared with the code before a change *in one invocation*, because this
machine is shared and its speed drifts between runs. This script makes a git worktree of
``--base`` (default ``HEAD~1``) beside the checkout, then runs ``adasim run CONFIG`` with
the same overrides from each tree in turn (this checkout's ``.venv`` serves both, as
``python -m adasim`` started in the tree's folder, so the code is the tree's own), timing
each with
``os.wait4``: wall time, the CPU of the run and every worker it started, and peak RSS. It
counts the impressions of every log the run wrote (A/B run and twins; the history too) and
checks that both runs logged the same bytes (``adasim fingerprint``), which a speed change
must keep. It prints both and the ratios, and writes
``benchmarks/results/bench_main_job.json``.

Run: ``.venv/bin/python benchmarks/bench_main_job.py [--config configs/quick.toml]
[--base COMMIT] [--set KEY=VALUE ...] [--order base,head]``. On the default config each run
takes about as long as ``make run``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"


def _impressions(run: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in run.rglob("events/part-*.parquet"))


def _fingerprint(tree: Path, run: Path) -> str:
    out = subprocess.run(
        [str(PYTHON), "-m", "adasim", "fingerprint", str(run)],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith(("events", "summary"))]
    return "\n".join(lines)


def _timed_run(tree: Path, config: str, out: Path, overrides: list[str]) -> dict[str, Any]:
    # ``-m`` from the tree's folder: its own packages come first on the path.
    cmd = [
        str(PYTHON),
        "-m",
        "adasim",
        "run",
        config,
        "--out",
        str(out),
        "--set",
        "engine.progress=false",
    ]
    for item in overrides:
        cmd += ["--set", item]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench_main_job: {' '.join(cmd)} failed in {tree}:\n{stderr[-2000:]}")
    impressions = _impressions(out)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "impressions": impressions,
        "cpu_seconds_per_1000_impressions": round(1000 * cpu / impressions, 4),
        "peak_rss_mb_largest_process": round(usage.ru_maxrss / 1024, 1),
        "fingerprint": _fingerprint(tree, out),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quick.toml")
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare with")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--order", default="base,head", help="which tree runs first")
    args = parser.parse_args()
    base = subprocess.run(
        ["git", "rev-parse", args.base], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-main-job-") as tmp:
        worktree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), base],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            trees = {"base": worktree, "head": ROOT}
            for name in args.order.split(","):
                out = Path(tmp) / f"run-{name}"
                results[name] = _timed_run(trees[name], args.config, out, args.overrides)
                shutil.rmtree(out)
                print(name, json.dumps(results[name]), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)
    b, h = results["base"], results["head"]
    result = {
        "benchmark": "bench_main_job",
        "config": args.config,
        "overrides": args.overrides,
        "base_commit": base,
        "head_commit": head,
        "head_has_uncommitted_changes": bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout.strip()
        ),
        "cores": len(os.sched_getaffinity(0)),
        "base": b,
        "head": h,
        "wall_ratio_head_to_base": round(h["wall_seconds"] / b["wall_seconds"], 3),
        "cpu_per_impression_ratio_head_to_base": round(
            h["cpu_seconds_per_1000_impressions"] / b["cpu_seconds_per_1000_impressions"], 3
        ),
        "same_logs": b["fingerprint"] == h["fingerprint"],
        "load_average_after": os.getloadavg(),
    }
    print(
        f"wall: base {b['wall_seconds']} s, head {h['wall_seconds']} s "
        f"(ratio {result['wall_ratio_head_to_base']}); CPU per 1,000 impressions: base "
        f"{b['cpu_seconds_per_1000_impressions']} s, head {h['cpu_seconds_per_1000_impressions']} s "
        f"(ratio {result['cpu_per_impression_ratio_head_to_base']}); same logs: "
        f"{result['same_logs']}"
    )
    out = ROOT / "benchmarks" / "results" / "bench_main_job.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
