"""Benchmark: where the wall time of an experiment goes, stage by stage.

Runs the A/B part of an experiment config (default: ``configs/default.toml``; the twin is
switched off and one process is used, so every second is on one clock), then its
analysis, and times with ``time.perf_counter`` around each stage's entry point:

* **history**: simulating the logged past (``simulate_history``: the world and the
  history's exploring popularity policy);
* **pre-training**: the agents' pass over the history (``TwoStage.learn_history``);
* **retrieval**: candidates for each request (``TwoStage.candidates``: the user tower,
  the scores over the catalogue, top-N, the exploration slots);
* **ranking**: the ranker's forward pass over the candidates (``TwoStage.rank``);
* **serving, rest**: the rest of ``recommend`` (the serving policy's probabilities, the
  draw);
* **observe**, **train**, **warm start**: feature encoding and buffering, the online
  updates, the passes before the experiment;
* **logging**: the event log's appends and Parquet writes (``EventLog``);
* **checkpoints**: day checkpoints, the fork and the serving snapshots;
* **world and engine**: the rest of the experiment's wall time (simpy events, sessions,
  the world's vectorised response, retention);
* **analysis**: the report (``analyse_run``).

The engine's target (issue 5) is that its own overhead, everything but the models, is at
most 30% of the experiment's wall time.

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

import simulator.engine.experiment as experiment  # noqa: E402
from adasim.jobs.run_analysis import analyse_run  # noqa: E402
from adasim.registry import build_agent  # noqa: E402
from agents.two_stage import TwoStage  # noqa: E402
from simulator.config import load_config  # noqa: E402
from simulator.engine.eventlog import EventLog  # noqa: E402

SPENT: dict[str, float] = {}

MODEL_METHODS = {
    "learn_history": "pre-training",
    "candidates": "retrieval",
    "rank": "ranking",
    "recommend": "recommend",
    "observe": "observe",
    "train": "train",
    "warm_start": "warm start",
}
"""TwoStage's entry points and their stages (``recommend`` includes retrieval and ranking)."""


def _timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            SPENT[name] = SPENT.get(name, 0.0) + time.perf_counter() - start

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
    for method, stage in MODEL_METHODS.items():
        setattr(TwoStage, method, _timed(stage, getattr(TwoStage, method)))
    for method in ("append", "flush", "close"):
        setattr(EventLog, method, _timed("logging", getattr(EventLog, method)))
    for function in ("save_checkpoint", "save_snapshot"):
        setattr(experiment, function, _timed("checkpoints", getattr(experiment, function)))
    experiment.simulate_history = _timed("history", experiment.simulate_history)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cpu = time.process_time()
        layout = experiment.run_experiment(config, Path(tmp) / "run", build_agent, progress=False)
        wall = time.perf_counter() - start
        analysis_start = time.perf_counter()
        analyse_run(config, layout.root)
        SPENT["analysis"] = time.perf_counter() - analysis_start
        cpu = time.process_time() - cpu
        files = (Path(tmp) / "run" / "events").glob("*.parquet")
        n_events = sum(pq.read_metadata(f).num_rows for f in files)
    models = ("pre-training", "recommend", "observe", "train", "warm start")
    model = sum(SPENT.get(k, 0.0) for k in models)
    stages = {
        "history": SPENT.get("history", 0.0),
        "pre-training": SPENT.get("pre-training", 0.0),
        "retrieval": SPENT.get("retrieval", 0.0),
        "ranking": SPENT.get("ranking", 0.0),
        "serving, rest": SPENT.get("recommend", 0.0)
        - SPENT.get("retrieval", 0.0)
        - SPENT.get("ranking", 0.0),
        "observe": SPENT.get("observe", 0.0),
        "train": SPENT.get("train", 0.0),
        "warm start": SPENT.get("warm start", 0.0),
        "logging": SPENT.get("logging", 0.0),
        "checkpoints": SPENT.get("checkpoints", 0.0),
    }
    stages["world and engine"] = wall - sum(stages.values())
    stages["analysis"] = SPENT["analysis"]
    total = wall + SPENT["analysis"]
    print(f"{'stage':<18} {'seconds':>9} {'share':>7}")
    for stage, seconds in stages.items():
        print(f"{stage:<18} {seconds:9.1f} {seconds / total:7.1%}")
    result = {
        "config": args.config,
        "days": config.experiment.pre_days + config.experiment.days,
        "n_users": config.world.n_users,
        "impressions": n_events,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
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
