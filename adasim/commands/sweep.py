"""``adasim sweep CONFIG``: many experiments over seeds and a parameter grid."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adasim.commands import add_overrides_argument

NAME = "sweep"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="run many experiments: seeded replicates times a grid of config values",
        description=(
            "Run the cross product of the --grid axes times --replicates replicates (each "
            "replicate with its own seed spawned from the config's seed, the same in every "
            "grid cell), on one process, local processes or a Ray cluster. Writes one row "
            "per run and (metric, segment) as table.parquet/.json/.md and a report "
            "(estimated against true lifts, coverage, false-positive rates, lift by grid "
            "value). A failed run is recorded with its error; started again, the sweep "
            "reruns only the runs without a result."
        ),
    )
    p.add_argument("config", help="TOML config file with [arms]")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a grid axis, e.g. --grid world.behavior.noise_skip_rate=0.0,0.1 (repeatable)",
    )
    p.add_argument("--replicates", type=int, default=1, help="replicates per grid cell")
    p.add_argument(
        "--backend",
        choices=("serial", "process", "ray"),
        default="serial",
        help=(
            "where the runs execute: serial (one after another in this process, the "
            "default), process (--workers local processes) or ray (a Ray cluster at "
            "--address, or a local one with --workers CPUs; optional extra)"
        ),
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes or local Ray CPUs (default 0: the cores available)",
    )
    p.add_argument("--address", help="Ray cluster address (ray backend; none: start local)")
    p.add_argument("--out", help="sweep directory (default: runs/sweep_<config name>)")
    add_overrides_argument(p, "seed=3")
    p.add_argument("--retry-failed", action="store_true", help="rerun failed runs too")
    p.add_argument(
        "--prune", action="store_true", help="delete each run's logs and checkpoints when done"
    )
    p.add_argument("--no-report", action="store_true", help="write the table only")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: table and report of the runs finished so far",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    """Load the config, run or resume the sweep, write the table and the report."""
    from adasim.jobs.sweep_backends import run_sweep, sweep_report
    from simulator.config import load_config

    config = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / f"sweep_{config.name}"
    result = run_sweep(
        config,
        args.grid,
        args.replicates,
        out,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        retry_failed=args.retry_failed,
        prune=args.prune,
        progress=not args.no_progress,
        execute=not args.report_only,
    )
    n_runs = result.table["run_id"].nunique()
    print(
        f"{config.name}: {n_runs} runs ({len(result.executed)} executed now, "
        f"{result.n_failed} failed), backend {args.backend}, "
        f"{result.wall_seconds:.1f} s  ->  {result.sweep_dir}"
    )
    print(f"table: {result.paths['parquet']}  {result.paths['markdown']}")
    if not args.no_report:
        report = sweep_report(config, args.grid, result)
        print(report.headline)
        print(f"report: {report.markdown}")
    return 1 if result.n_failed else 0
