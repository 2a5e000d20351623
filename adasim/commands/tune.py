"""``adasim tune CONFIG --out DIR``: one tuning procedure for every arm.

Parses, checks every option and loads the config (with ``--set`` and ``--seed``, as
``adasim run``), then calls :func:`adasim.jobs.tune.run_tune` and prints the grid of each
arm. The procedure is in :mod:`adasim.jobs.tune` and ``docs/tuning.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adasim.commands import add_overrides_argument, check_counts
from simulator.errors import ConfigError

NAME = "tune"

DESCRIPTION = """\
Choose each two-stage arm's learning rate and embedding size with one procedure: build the
world, simulate its history (the logged past before day 0) into DIR/history/ (or reuse one
with --history), split it by day into training, validation and test days (the test days
are never loaded), train every arm's own ranker (its base model and framework) on the same
most recent training rows for every point of the same grid, score it by the validation AUC
of its first task, and write DIR/tuned.json with the choice, the budget and every grid
point's AUC. `adasim run CONFIG --tuned DIR/tuned.json` applies the values. Arms that are
not two-stage (random, popular, oracle, custom factories) have nothing to tune and are
skipped. Every option is checked before the world is built.

The default grid is the paper's five learning rates and embed_dim 8 and 16 (of the
paper's 8, 16, 32, 64: what fits a 2-core machine), 400,000 training rows, at most 3
epochs: about 20 minutes for configs/default.toml on 2 cores (measured, docs/tuning.md).

examples:
  adasim tune configs/default.toml --out runs/tune
  adasim tune configs/default.toml --out runs/tune --lr 0.001,0.01 --embed-dim 8,16,32
  adasim tune configs/default.toml --out runs/tune-t --history runs/default/history
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``tune`` on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="tune every arm's learning rate and embedding size with one procedure",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="TOML config file, e.g. configs/default.toml")
    p.add_argument("--out", required=True, help="folder for history/ and tuned.json")
    p.add_argument("--seed", type=int, help="overrides seed (the world's)")
    p.add_argument(
        "--lr",
        default=None,
        metavar="LR,LR,...",
        help="learning rates of the grid (default: the paper's 0.001,0.005,0.01,0.02,0.1)",
    )
    p.add_argument(
        "--embed-dim",
        default=None,
        metavar="D,D,...",
        help="embedding sizes of the grid (default 8,16; the paper's grid is 8,16,32,64)",
    )
    p.add_argument(
        "--arms",
        default=None,
        metavar="NAME,NAME,...",
        help="tune only these arms (default: every two-stage arm)",
    )
    p.add_argument("--epochs", type=int, default=3, help="maximum epochs per grid point (3)")
    p.add_argument("--patience", type=int, default=1, help="early-stopping patience (1)")
    p.add_argument("--batch-size", type=int, default=256, help="mini-batch size (256)")
    p.add_argument(
        "--train-rows",
        type=int,
        default=400_000,
        help="the most recent training rows every grid point trains on (400000)",
    )
    p.add_argument(
        "--valid-rows",
        type=int,
        default=200_000,
        help="validation rows scored, evenly spaced over the validation days (200000)",
    )
    p.add_argument(
        "--history",
        default=None,
        metavar="DIR",
        help="reuse this finished history of the same world (e.g. runs/default/history) "
        "instead of simulating one",
    )
    add_overrides_argument(p, "world.n_users=2000")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="replace what a tuning of another config left in --out (adasim's files only)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def parse_list(text: str, option: str, kind: type[float] | type[int]) -> tuple[Any, ...]:
    """``"0.001,0.01"`` -> ``(0.001, 0.01)``; a one-line error naming ``option`` otherwise."""
    what = "learning rates > 0" if kind is float else "whole sizes >= 1"
    rule = (
        f"must be a comma list of distinct {what}, e.g. {'0.001,0.01' if kind is float else '8,16'}"
    )
    parts = [t.strip() for t in text.split(",")]
    try:
        values = tuple(kind(t) for t in parts)
    except ValueError:
        raise ConfigError(f"{option} == {text!r}, {rule}") from None
    bad = any(not (v > 0) for v in values) if kind is float else any(v < 1 for v in values)
    if not values or bad or len(set(values)) != len(values):
        raise ConfigError(f"{option} == {text!r}, {rule}")
    return values


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """``"control,treatment"`` -> the names; a one-line error naming ``--arms`` otherwise."""
    if text is None:
        return None
    names = tuple(t.strip() for t in text.split(","))
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ConfigError(f"--arms == {text!r}, must be a comma list of distinct arm names")
    return names


def budget_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~adasim.jobs.tune.TuneBudget` of the options (checked)."""
    from adasim.jobs.tune import DEFAULT_EMBED_DIMS, PAPER_LRS, TuneBudget

    check_counts(
        (
            ("--epochs", args.epochs),
            ("--patience", args.patience),
            ("--batch-size", args.batch_size),
            ("--train-rows", args.train_rows),
            ("--valid-rows", args.valid_rows),
        )
    )
    lrs = PAPER_LRS if args.lr is None else parse_list(args.lr, "--lr", float)
    dims = (
        DEFAULT_EMBED_DIMS
        if args.embed_dim is None
        else parse_list(args.embed_dim, "--embed-dim", int)
    )
    return TuneBudget(
        lrs=lrs,
        embed_dims=dims,
        max_epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        train_rows=args.train_rows,
        valid_rows=args.valid_rows,
    )


def run(args: argparse.Namespace) -> int:
    """Check the options, load the config, tune, print every arm's grid."""
    from adasim.jobs.tune import plan_tune, run_tune
    from simulator.config import load_config

    # Every option first: nothing is built, simulated or trained until all are valid.
    budget = budget_from_args(args)
    arms = parse_names(args.arms)
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    config = load_config(args.config, overrides)
    plan = plan_tune(config, args.out, budget, arms, history=args.history, fresh=args.fresh)
    result = run_tune(plan, progress=not args.no_progress)
    print(result)
    print(
        f"\nwrote {Path(args.out) / 'tuned.json'} ({result.seconds:.0f} s); apply it with "
        f"adasim run {args.config} --tuned {Path(args.out) / 'tuned.json'}"
    )
    return 0


__all__ = ["add_parser", "budget_from_args", "parse_list", "parse_names", "run"]
