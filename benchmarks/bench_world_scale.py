"""Benchmark: a world-only run of 1,000,000 users for 7 days; memory does not grow with days.

Each run is a child process (so its peak RSS is its own) doing exactly what
``adasim simulate`` does with the random policy: build the world, run the engine with the
event log streaming Parquet row groups to disk, write users/items tables. The same world
is run for 3 and for 7 days: if the log streams, the peak RSS of the two is about the
same although the 7-day run writes more than twice as many events.

Run: ``.venv/bin/python benchmarks/bench_world_scale.py`` (``--users 100000`` for a
smaller check). Writes ``benchmarks/results/bench_world_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _overrides(users: int) -> list[str]:
    # Same shape as the default world, scaled: arrivals 2% of the base a day, items 1/10.
    return [
        f"world.n_users={users}",
        f"world.new_users_per_day={users // 50}",
        f"world.n_items={max(users // 10, 1000)}",
        f"world.new_items_per_day={max(users // 1000, 10)}",
        "engine.progress=false",
        "simulate.policy=random",
    ]


def run(users: int, days: int, out: dict[str, Any]) -> None:
    from simulator.config import load_config
    from simulator.engine.engine import Engine
    from simulator.engine.eventlog import EventLog
    from simulator.policies import RandomPolicy
    from simulator.world.world import World

    cfg = load_config(
        ROOT / "configs" / "world.toml", [*_overrides(users), f"simulate.days={days}"]
    )
    tmp = Path(tempfile.mkdtemp(prefix="adasim-scale-"))
    try:
        t0 = time.perf_counter()
        world = World.build(cfg.world, days, cfg.seed)
        t1 = time.perf_counter()
        log = EventLog(tmp, ["random"], chunk_rows=cfg.engine.chunk_rows)
        engine = Engine(world, {"random": RandomPolicy()}, config=cfg.engine, log=log, rng=1)
        stats = engine.run(days)
        engine.close(tmp)
        t2 = time.perf_counter()
        size = sum(f.stat().st_size for f in tmp.rglob("*.parquet"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out.update(
        users_total=world.n_users_total,
        items_total=world.n_items_total,
        impressions=stats.impressions,
        sessions=stats.sessions,
        build_seconds=t1 - t0,
        run_seconds=t2 - t1,
        total_seconds=t2 - t0,
        log_mb=size / 2**20,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    )


def _child(users: int, days: int) -> dict[str, Any]:
    with mp.Manager() as manager:
        out = manager.dict()
        proc = mp.get_context("spawn").Process(target=run, args=(users, days, out))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"run({users}, {days}) failed with exit code {proc.exitcode}")
        return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, nargs="+", default=[3, 7])
    args = parser.parse_args()
    rows = {}
    print(
        f"{'days':>5}{'users (end)':>13}{'impressions':>14}{'run s':>9}{'total s':>9}"
        f"{'impr/s':>11}{'log MB':>9}{'peak RSS MB':>13}"
    )
    for days in args.days:
        r = _child(args.users, days)
        rows[str(days)] = r
        print(
            f"{days:>5}{r['users_total']:>13,}{r['impressions']:>14,}{r['run_seconds']:>9.0f}"
            f"{r['total_seconds']:>9.0f}{r['impressions'] / r['run_seconds']:>11,.0f}"
            f"{r['log_mb']:>9.0f}{r['peak_rss_mb']:>13.0f}",
            flush=True,
        )
    result = {"users": args.users, "runs": rows}
    out = ROOT / "benchmarks" / "results" / "bench_world_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
