"""Subcommands of the ``adasim`` command line, one module each.

A command module exposes ``add_parser(subparsers) -> argparse.ArgumentParser`` and
``run(args) -> int``; :mod:`adasim.cli` lists the modules in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from simulator.errors import ConfigError


def add_overrides_argument(parser: argparse.ArgumentParser, example: str) -> None:
    """The repeatable ``--set KEY=VALUE`` option every config-reading command shares."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. --set {example} (repeatable)",
    )


def check_counts(options: Iterable[tuple[str, int]]) -> None:
    """A one-line error for the first ``(option, value)`` whose value is below 1."""
    for option, value in options:
        if value < 1:
            raise ConfigError(f"{option} == {value}, must be >= 1")


__all__ = ["add_overrides_argument", "check_counts"]
