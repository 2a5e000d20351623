"""``adasim diagnose CONFIG --out DIR``: does the world have the paper's premise?

Parses, checks every option and loads the config (with ``--set`` and ``--seed``, as
``adasim run``), then calls :func:`adasim.jobs.diagnose.run_diagnose` and prints the
table. The definitions are in :mod:`adasim.jobs.diagnose`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adasim.commands import add_overrides_argument, check_counts
from simulator.errors import ConfigError

NAME = "diagnose"

DESCRIPTION = """\
Measure whether the simulated world has the premise of the AdaF2M2 paper: build the world,
simulate its history (the logged past before day 0) into DIR/history/, train a bare DCN-V2
on `finish` with and without the user and item ID fields on a time split of that log
(several seeds, early stopping on validation AUC), and write DIR/diagnostics.json and
DIR/diagnostics.md: the long tail (top-5% shares of users and items), how warm old and new
users are, the AUC with and without IDs overall and on head/tail items, warm/cold and
new/old users, the ID gains, the cold-start gap, the Bayes AUC of the true and of the
meta-predictable finish probabilities, and the noisy-skip share and episode length.
With --curve, one longer history (the longest window plus validation and test days, in
DIR/curve/) trains the ID model on windows of growing length, all tested on the same days:
is the history long enough? Every option is checked before the world is built.

examples:
  adasim diagnose configs/default.toml --out runs/diagnose
  adasim diagnose configs/quick.toml --out runs/diag-quick --seeds 1 --curve 1,2,4
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``diagnose`` on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="measure the world's long tail, ID informativeness, cold start and noise",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="TOML config file, e.g. configs/default.toml")
    p.add_argument("--out", required=True, help="folder for history/ and diagnostics.*")
    p.add_argument("--seed", type=int, help="overrides seed (the world's)")
    p.add_argument(
        "--seeds", type=int, default=3, help="seeds 0..N-1 of the reference model (default 3)"
    )
    p.add_argument(
        "--curve",
        default=None,
        metavar="DAYS,DAYS,...",
        help="also train the ID model on windows of these many days of one longer log, "
        "e.g. 7,14,28,56, all tested on the same last days, and report auc_id and "
        "bayes_auc - auc_id per window",
    )
    p.add_argument(
        "--epochs", type=int, default=10, help="maximum epochs of the reference model (10)"
    )
    p.add_argument(
        "--batch-size", type=int, default=4096, help="reference model's mini-batch (4096)"
    )
    p.add_argument(
        "--warm-min-samples",
        type=int,
        default=10,
        help="training samples that make a user warm (default 10)",
    )
    p.add_argument(
        "--no-count-fields",
        action="store_true",
        help="train the reference models without the count fields (what the IDs carry "
        "when no impression or like count can stand in for them)",
    )
    add_overrides_argument(p, "world.n_users=5000")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="replace what a diagnose of another config left in --out (adasim's files only)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def parse_curve(text: str | None) -> tuple[int, ...]:
    """``"7,14,28"`` -> ``(7, 14, 28)``; a one-line error naming ``--curve`` otherwise."""
    if text is None:
        return ()
    rule = "must be a comma list of distinct whole day counts >= 1, e.g. 7,14,28,56"
    parts = [t.strip() for t in text.split(",")]
    try:
        days = tuple(int(t) for t in parts)
    except ValueError:
        raise ConfigError(f"--curve == {text!r}, {rule}") from None
    if not days or any(d < 1 for d in days) or len(set(days)) != len(days):
        raise ConfigError(f"--curve == {text!r}, {rule}")
    return days


def _check_counts(args: argparse.Namespace) -> None:
    check_counts(
        (
            ("--seeds", args.seeds),
            ("--epochs", args.epochs),
            ("--batch-size", args.batch_size),
            ("--warm-min-samples", args.warm_min_samples),
        )
    )


def run(args: argparse.Namespace) -> int:
    """Check the options, load the config, diagnose, print the table."""
    from adasim.jobs.diagnose import (
        DiagnoseConfig,
        curve_log_error,
        plan_diagnose,
        run_diagnose,
    )
    from simulator.config import Config, load_config

    # Every option first: nothing is built, simulated or trained until all are valid.
    _check_counts(args)
    curve = parse_curve(args.curve)
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    config = load_config(args.config, overrides)

    def curve_config(days: int) -> Config:
        try:
            return load_config(args.config, [*overrides, f"world.history_days={days}"])
        except ConfigError as err:
            raise curve_log_error(f"--curve == {args.curve!r}", days, err, "--set") from None

    options = DiagnoseConfig(
        seeds=args.seeds,
        curve=curve,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        warm_min_samples=args.warm_min_samples,
        count_fields=not args.no_count_fields,
    )
    plan = plan_diagnose(config, args.out, options, curve_config, fresh=args.fresh)
    result = run_diagnose(plan, options, progress=not args.no_progress)
    print(result.to_markdown())
    out = Path(args.out)
    print(f"wrote {out / 'diagnostics.json'} and {out / 'diagnostics.md'}")
    return 0


__all__ = ["add_parser", "parse_curve", "run"]
