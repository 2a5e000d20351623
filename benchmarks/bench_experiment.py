"""Benchmark: where the wall time of an experiment goes, model compute against the engine.

Runs the A/B part of an experiment config (default: ``configs/default.toml``; the twin is
switched off and one process is used, so every second is on one clock) and times, with
``time.perf_counter`` around the agents' entry points:

* **model compute**: everything the two-stage agents do: ``recommend`` (feature lookup,
  retrieval over the catalogue, ranking forward passes, exploration), ``observe`` (feature
  encoding and buffering) and ``train`` (online Adam updates);
* **engine**: the rest of the wall time: simpy events, session bookkeeping, the world's
  vectorised response, retention, the event log's Parquet writes, checkpoints.

The target (issue 5) is that the engine's own overhead is at most 30% of the wall time.

Run: ``.venv/bin/python benchmarks/bench_experiment.py [--config C] [--days N]``.
Writes ``benchmarks/results/bench_experiment.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402

from adasim.registry import build_agent  # noqa: E402
from agents.two_stage import TwoStage  # noqa: E402
from simulator.config import load_config  # noqa: E402
from simulator.engine.experiment import run_experiment  # noqa: E402

SPENT: dict[str, float] = {"recommend": 0.0, "observe": 0.0, "train": 0.0, "warm_start": 0.0}


def _timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.toml"))
    parser.add_argument("--days", type=int, help="experiment days (default: the config's)")
    args = parser.parse_args()
    overrides = ["experiment.twin=false", "experiment.workers=1", "engine.progress=false"]
    if args.days is not None:
        overrides.append(f"experiment.days={args.days}")
    config = load_config(args.config, overrides)
    for name in SPENT:
        setattr(TwoStage, name, _timed(name, getattr(TwoStage, name)))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cpu = time.process_time()
        run_experiment(config, Path(tmp) / "run", build_agent, progress=False)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        files = (Path(tmp) / "run" / "events").glob("*.parquet")
        n_events = sum(pq.read_metadata(f).num_rows for f in files)
    model = sum(SPENT.values())
    result = {
        "config": args.config,
        "days": config.experiment.pre_days + config.experiment.days,
        "n_users": config.world.n_users,
        "impressions": n_events,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "model_seconds": {k: round(v, 2) for k, v in SPENT.items()},
        "model_share": round(model / wall, 4),
        "engine_share": round(1 - model / wall, 4),
        "engine_target_met": (1 - model / wall) <= 0.30,
        "impressions_per_second": round(n_events / wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks" / "results" / "bench_experiment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
