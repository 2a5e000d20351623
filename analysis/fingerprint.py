"""A run's fingerprint: sha256 digests of its event logs and of its summary's figures.

Two runs with the same fingerprint produced the same impressions, the same responses and
the same statistics. ``docs/results/reproducibility.md`` documents the fingerprint of the
quick run at the commit that landed it; any machine that prints the same value reproduces
the claim that results do not depend on the processor, the number of workers or an
interruption.

The digests are taken over the logs' *contents*, column by column (names, types and the
values' bytes), not over the Parquet files' bytes: a file also records the version of the
library that wrote it, which says nothing about the result. The summary's digest covers
the figures (``effects`` and ``lift_table``: every estimate, interval, p-value and the
twin's truth), not paths or titles.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from analysis.errors import AnalysisError

SUMMARY_FIGURES: tuple[str, ...] = ("effects", "lift_table")
"""The keys of ``summary.json`` whose values the fingerprint covers."""


@dataclass(frozen=True)
class RunFingerprint:
    """Digests of one run directory.

    Attributes:
        events: sha256 over every event log of the run (A/B and twins), in path order.
        summary: sha256 of the summary's figures (:data:`SUMMARY_FIGURES`).
        n_files: Number of event files read.
        n_rows: Number of impressions in them.
    """

    events: str
    summary: str
    n_files: int
    n_rows: int

    def __str__(self) -> str:
        return (
            f"events  sha256:{self.events}  ({self.n_files} files, {self.n_rows} impressions)\n"
            f"summary sha256:{self.summary}"
        )


def event_files(run_dir: str | Path) -> list[Path]:
    """The run's event files, sorted by path.

    ``events/`` of the A/B run and of each twin (the twin pairs of
    ``experiment.twin_replicates`` included), and of the history (the logged past the
    agents were pre-trained on), when the run has one.
    """
    root = Path(run_dir)
    found = [
        *root.glob("events/*.parquet"),
        *root.glob("twin/*/events/*.parquet"),
        *root.glob("twin/replicate-*/*/events/*.parquet"),
        *root.glob("history/events/*.parquet"),
    ]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _update_with_column(digest: Any, name: str, column: Any) -> None:
    values = column.to_numpy(zero_copy_only=False)
    digest.update(f"{name}:{column.type}:{len(values)}\n".encode())
    if values.dtype.kind in "biuf":
        digest.update(np.ascontiguousarray(values).tobytes())
    else:  # strings or dictionary-encoded columns: their text, one value per line
        digest.update("\n".join(map(str, values)).encode())


def fingerprint(run_dir: str | Path) -> RunFingerprint:
    """The fingerprint of a finished run directory (events and ``summary.json``).

    Raises:
        AnalysisError: The directory has no event files or no ``summary.json``.
    """
    root = Path(run_dir)
    files = event_files(root)
    if not files:
        raise AnalysisError(f"{root}: no event files (events/*.parquet), not a finished run")
    summary_path = root / "summary.json"
    if not summary_path.is_file():
        raise AnalysisError(f"{summary_path} does not exist; run `adasim report {root}` first")
    events = hashlib.sha256()
    n_rows = 0
    for path in files:
        table = pq.read_table(path)
        events.update(f"{path.relative_to(root).as_posix()}\n".encode())
        for name in table.column_names:
            _update_with_column(events, name, table.column(name).combine_chunks())
        n_rows += table.num_rows
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    figures = {key: summary.get(key) for key in SUMMARY_FIGURES}
    canonical = json.dumps(figures, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return RunFingerprint(
        events=events.hexdigest(),
        summary=hashlib.sha256(canonical.encode()).hexdigest(),
        n_files=len(files),
        n_rows=n_rows,
    )


__all__ = ["SUMMARY_FIGURES", "RunFingerprint", "event_files", "fingerprint"]
