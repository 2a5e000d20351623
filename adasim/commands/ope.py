"""``adasim ope RUN_DIR``: estimate the treatment from the control arm's log, against the truth."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "ope"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ope`` on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="off-policy evaluation of the treatment from the control arm's log",
        description=(
            "From the control arm's log of a finished run, estimate the treatment policy's "
            "per-impression finish rate and per-session finishes and listen time with IPS, "
            "SNIPS, DM, DR, SNDR, Switch-DR and DR-OS (bootstrap intervals, overlap "
            "diagnostics), beside the simulator's exact truth and the online A/B values; "
            "per user state (new/old) and item group (head/tail). Writes RUN_DIR/ope/ and "
            "rebuilds the run's report and summary.json with the results."
        ),
    )
    p.add_argument("run_dir", help="a finished run directory, e.g. runs/default")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of folds and bootstrap")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the comparison with the truth, rebuild the report."""
    from adasim.jobs.ope_run import evaluate_run
    from adasim.jobs.run_analysis import analyse_run
    from simulator.config import load_config
    from simulator.errors import ConfigError

    # Every argument is checked before the world is built and the snapshots replayed.
    if args.bootstrap < 1:
        raise ConfigError(f"--bootstrap == {args.bootstrap}, must be >= 1")
    if args.seed < 0:
        raise ConfigError(f"--seed == {args.seed}, must be >= 0")
    result = evaluate_run(
        args.run_dir,
        n_bootstrap_samples=args.bootstrap,
        rng=args.seed,
        progress=not args.no_progress,
    )
    print(result.comparison)
    config = load_config(f"{args.run_dir}/config.toml")
    analysis = analyse_run(config, args.run_dir)
    print(f"\nope: {result.markdown}   report: {analysis.report_md}")
    return 0
