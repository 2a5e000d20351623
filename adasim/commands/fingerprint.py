"""``adasim fingerprint RUN_DIR``: the digests that say whether two runs computed the same."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "fingerprint"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fingerprint`` on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="sha256 of a run's event logs and of its summary's figures",
        description=(
            "Print the sha256 digests of a finished run's event logs (A/B and twins, by "
            "content, not file bytes) and of its summary's figures (effects and the lift "
            "table). Two runs with the same fingerprint produced the same impressions and "
            "the same statistics; docs/results/reproducibility.md gives the quick run's."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder, e.g. runs/quick")
    return p


def run(args: argparse.Namespace) -> int:
    """Print the fingerprint."""
    from analysis.fingerprint import fingerprint

    print(fingerprint(args.run_dir))
    return 0
