"""Subcommands of the ``adasim`` command line, one module each.

A command module exposes ``add_parser(subparsers) -> argparse.ArgumentParser`` and
``run(args) -> int``; :mod:`simulator.cli` lists the modules in ``COMMANDS``.
"""

from __future__ import annotations

__all__: list[str] = []
