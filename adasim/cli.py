"""The ``adasim`` command line: a thin layer that parses, loads config and calls the library.

Each subcommand lives in ``adasim/commands/<name>.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Adding a command is one line in
:data:`COMMANDS`. Errors that adasim raises on purpose (:class:`AdasimError`) print one
line to stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from adasim.commands import (
    diagnose,
    fingerprint,
    offline,
    ope,
    report,
    simulate,
    sweep,
    tune,
)
from adasim.commands import run as run_command
from simulator.errors import AdasimError

COMMANDS: list[ModuleType] = [
    run_command,
    simulate,
    report,
    offline,
    ope,
    sweep,
    fingerprint,
    diagnose,
    tune,
]
"""Command modules, in the order ``adasim --help`` lists them."""


def _expected_errors() -> tuple[type[Exception], ...]:
    """The packages' root exceptions: bad input, reported in one line without a traceback.

    adaf2m2's root is looked up only if that package was imported (it imports torch).
    """
    from analysis.errors import AnalysisError

    roots: list[type[Exception]] = [AdasimError, AnalysisError]
    if "adaf2m2.errors" in sys.modules:
        roots.append(sys.modules["adaf2m2.errors"].FrameworkError)
    return tuple(roots)


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
    except Exception as err:
        if not isinstance(err, _expected_errors()):
            raise
        print(f"adasim {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"adasim {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    raise SystemExit(main())
