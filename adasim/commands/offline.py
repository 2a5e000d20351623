"""``adasim offline``: train and compare base models on a logged data set.

Thin: parses the arguments, loads the data with ``agents.datasets``, calls
:func:`adasim.jobs.offline_run.run_offline`, prints the table and writes it as markdown
and JSON.

Examples:
    adasim offline --data movielens:data/ml-100k --models fm,dcnv2 --seeds 3 --out runs/off
    adasim offline --data sim:runs/quick --framework none,adaf2m2 --out runs/quick/offline
"""

from __future__ import annotations

import argparse
import sys

from adasim.jobs.offline_data import cli_flag, load_data, parse_data_spec
from simulator.errors import AdasimError, ConfigError

DEFAULT_MODELS = "fm,youtube_dnn,afn,dcnv2,eulernet"

DESCRIPTION = """\
Train base ranking models offline on a logged data set and compare them: test AUC, UAUC
(per-user AUC), log loss and calibration, overall and for new/old users and head/tail
items, as mean and standard deviation over seeds 0..N-1, with RelaImpr against the bare
model (for a framework row) or a logistic regression. A popularity and a logistic
baseline come along unless --no-baselines. The data is a simulated run folder
(sim:RUN_DIR, split by time by default; the run's history log when it has one, see
--log) or MovieLens (movielens:PATH, ML-1M .dat files or
ML-100k). Every option is checked before the data is read or a model trained.

examples:
  adasim offline --data sim:runs/quick --framework none,adaf2m2 --out runs/quick/offline
  adasim offline --data movielens:data/ml-100k --models fm,dcnv2 --seeds 3 --out runs/off
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``offline`` on the ``adasim`` sub-command parser."""
    p = subparsers.add_parser(
        "offline",
        help="train base models on a log and report AUC, UAUC, log loss over seeds",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        required=True,
        help="sim:RUN_DIR (a simulated run) or movielens:PATH (ML-1M .dat, ML-100k)",
    )
    p.add_argument(
        "--models", default=DEFAULT_MODELS, help=f"comma list (default {DEFAULT_MODELS})"
    )
    p.add_argument(
        "--framework",
        default="none",
        help="comma list of training frameworks; none = bare model (default none)",
    )
    p.add_argument("--seeds", type=int, default=3, help="number of seeds 0..n-1 (default 3)")
    p.add_argument("--out", default=None, help="directory for offline.md and offline.json")
    p.add_argument("--epochs", type=int, default=10, help="maximum epochs (default 10)")
    p.add_argument("--patience", type=int, default=2, help="early-stopping patience (default 2)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=256, help="mini-batch size (default 256)")
    p.add_argument("--embed-dim", type=int, default=16, help="embedding size (default 16)")
    p.add_argument("--history-len", type=int, default=0, help="recent items per sample (0)")
    p.add_argument(
        "--split",
        choices=("time", "random"),
        default=None,
        help="sim data only: time (default) or random 6:2:2",
    )
    p.add_argument("--arms", default=None, help="sim data only: comma list of arms to keep")
    p.add_argument("--max-events", type=int, default=None, help="sim data only: first N events")
    p.add_argument(
        "--log",
        choices=("history", "experiment"),
        default=None,
        help="sim data only: the run's history log (RUN_DIR/history, the default when the "
        "run has one) or its experiment log",
    )
    p.add_argument("--no-baselines", action="store_true", help="skip popularity and logistic")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p  # type: ignore[no-any-return]


def _names(text: str, what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(f"--{what} == {text!r}, must list at least one name")
    return names


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the process exit code."""
    # torch is imported here, not at module import, so `adasim --help` stays fast.
    from adasim.jobs.offline_run import check_names, run_offline
    from agents.models.base import ModelConfig
    from agents.training import TrainConfig

    try:
        # The whole plan first: nothing is read or trained until every option is valid.
        spec = parse_data_spec(
            args.data,
            split=args.split,
            arms=args.arms,
            max_events=args.max_events,
            log=args.log,
            option=cli_flag,
        )
        if args.seeds < 1:
            raise ConfigError(f"--seeds == {args.seeds}, must be >= 1")
        if args.history_len < 0:
            raise ConfigError(f"--history-len == {args.history_len}, must be >= 0")
        models = _names(args.models, "models")
        frameworks = _names(args.framework, "framework")
        check_names(models, frameworks, names=("--models", "--framework"))
        model_config = ModelConfig(embed_dim=args.embed_dim)
        train_config = TrainConfig(
            lr=args.lr,
            batch_size=args.batch_size,
            max_epochs=args.epochs,
            patience=args.patience,
        )
        data = load_data(
            spec,
            split=args.split,
            arms=None if args.arms is None else _names(args.arms, "arms"),
            history_len=args.history_len,
            max_events=args.max_events,
        )
        result = run_offline(
            data,
            models=models,
            frameworks=frameworks,
            seeds=args.seeds,
            model_config=model_config,
            train_config=train_config,
            baselines=not args.no_baselines,
            out_dir=args.out,
            progress=not args.quiet,
        )
    except (AdasimError, OSError) as exc:
        print(f"adasim offline: error: {exc}", file=sys.stderr)
        return 2
    print(result.to_markdown())
    if args.out is not None:
        print(f"wrote {args.out}/offline.md and {args.out}/offline.json")
    return 0


__all__ = ["add_parser", "run"]
