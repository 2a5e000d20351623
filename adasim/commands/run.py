"""``adasim run [CONFIG]``: the simulated A/B experiment, its report and the paper's table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adasim.commands import add_overrides_argument
from simulator.engine.experiment import KEEP_CHECKPOINTS

NAME = "run"
DEFAULT_CONFIG = "configs/default.toml"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``run`` on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="run a simulated A/B experiment (default: configs/default.toml)",
        description=(
            "Run the pre-period, the A/B experiment and (if configured) the twin worlds; "
            "write runs/<name>/ (config, events, users, report, summary.json) and print "
            "the relative lifts by new and old users with the twin's true lifts. A killed "
            "run resumes from its last complete day when started again."
        ),
    )
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help="TOML config file")
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    p.add_argument("--seed", type=int, help="overrides seed")
    p.add_argument(
        "--workers",
        type=int,
        help="overrides experiment.workers (0: the cores available, at most 3); results "
        "do not depend on it",
    )
    add_overrides_argument(p, "arms.treatment.k=3")
    p.add_argument(
        "--tuned",
        metavar="FILE",
        help="apply the lr and embed_dim that `adasim tune` chose (its tuned.json) to the "
        "arms it names, after --set; the run's config.toml records them and the run folder "
        "keeps a copy of the file",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start over: first remove what adasim wrote in the run directory (only a "
        "folder adasim created; other files are never deleted)",
    )
    p.add_argument(
        "--keep-checkpoints",
        choices=KEEP_CHECKPOINTS,
        default="latest",
        help="latest (default): the newest checkpoints while running, none once finished "
        "(the treatment's daily serving snapshots stay for `adasim ope`); all: every day",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def run(args: argparse.Namespace) -> int:
    """Load the config, run or resume the experiment, analyse it, print the table."""
    import sys

    from adasim.jobs.run_analysis import analyse_run
    from adasim.jobs.tuned_run import apply_tuned, record_tuned_run
    from adasim.registry import build_agent, check_agents
    from simulator.config import load_config
    from simulator.engine.experiment import run_experiment

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.workers is not None:
        overrides.append(f"experiment.workers={args.workers}")
    config = load_config(args.config, overrides)
    tuned = None if args.tuned is None else apply_tuned(config, args.tuned)
    if tuned is not None:
        config = tuned.config
        if tuned.warning:
            print(f"adasim run: warning: {tuned.warning}", file=sys.stderr)
    check_agents(config)  # a custom agent's factory imports, before any work
    out = Path(args.out) if args.out else Path("runs") / config.name
    layout = run_experiment(
        config,
        out,
        build_agent,
        progress=not args.no_progress,
        fresh=args.fresh,
        keep_checkpoints=args.keep_checkpoints,
    )
    # Before the analysis: the report reads the run's tuned.json (adasim.jobs.tuned_run).
    if tuned is not None:
        record_tuned_run(tuned, layout.root)
    result = analyse_run(config, layout.root)
    print(
        f"\n{config.name}: seed {config.seed}, {config.experiment.days} days after "
        f"{config.experiment.pre_days} pre-period days  ->  {layout.root}"
    )
    print(result.table)
    print(f"\nreport: {result.report_md}   summary: {result.summary}")
    return 0
