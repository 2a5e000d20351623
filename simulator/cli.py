"""The ``adasim`` command line: a thin layer that parses, loads config and calls the library.

Each subcommand lives in ``simulator/commands/<name>.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Adding a command is one line in
:data:`COMMANDS`. Errors that adasim raises on purpose (:class:`AdasimError`) print one
line to stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from simulator.commands import offline, ope, report, simulate
from simulator.commands import run as run_command
from simulator.errors import AdasimError

COMMANDS: list[ModuleType] = [
    run_command,
    simulate,
    report,
    offline,
    ope,
]
"""Command modules, in the order ``adasim --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="adasim",
        description="Simulated A/B experiments and off-policy evaluation of recommenders.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``adasim`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args._run(args)
    except AdasimError as err:
        print(f"adasim {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"adasim {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    raise SystemExit(main())
