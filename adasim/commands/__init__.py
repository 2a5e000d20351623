"""Subcommands of the ``adasim`` command line, one module each.

A command module exposes ``add_parser(subparsers) -> argparse.ArgumentParser`` and
``run(args) -> int``; :mod:`adasim.cli` lists the modules in ``COMMANDS``.
"""

from __future__ import annotations

import argparse


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


__all__ = ["add_overrides_argument"]
