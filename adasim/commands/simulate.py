"""``adasim simulate CONFIG``: run the world alone with a built-in policy and summarise it."""

from __future__ import annotations

import argparse
from typing import Any

from adasim.commands import add_overrides_argument
from simulator.config import load_config

NAME = "simulate"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``simulate`` on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="run the world alone with random, popular or oracle recommendations",
        description=(
            "Run the simulated world with one built-in policy, write the event log, "
            "users.parquet, items.parquet, config.toml and summary.json to --out, and "
            "print the long-tail summary."
        ),
    )
    p.add_argument("config", help="TOML config file, e.g. configs/world.toml")
    p.add_argument(
        "--policy", choices=("random", "popular", "oracle"), help="overrides simulate.policy"
    )
    p.add_argument("--days", type=int, help="overrides simulate.days")
    p.add_argument("--seed", type=int, help="overrides seed")
    p.add_argument("--out", required=True, help="run directory to write")
    add_overrides_argument(p, "world.n_users=50000")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    """Load the config with overrides, simulate, print the summary."""
    from simulator.engine.simulate import simulate_world

    overrides = list(args.overrides)
    if args.policy is not None:
        overrides.append(f"simulate.policy={args.policy!s}")
    if args.days is not None:
        overrides.append(f"simulate.days={args.days}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.no_progress:
        overrides.append("engine.progress=false")
    config = load_config(args.config, overrides)
    summary = simulate_world(config, args.out)
    print(
        f"{config.name}: policy {config.simulate.policy}, {config.simulate.days} days, "
        f"seed {config.seed}  ->  {args.out}"
    )
    print(summary)
    print(
        f"(new = registered at most {config.world.users.new_user_days} days before day 0 "
        "or during the run; duration = total listen time)"
    )
    return 0
