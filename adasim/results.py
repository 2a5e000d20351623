"""What :func:`adasim.run` and :func:`adasim.report` return: a report and the log behind it.

A :class:`ReportResult` is the A/B report of a log folder (``events/`` and
``users.parquet``): the lift table, the paths of ``report.md``, ``report.html`` and
``summary.json``, the parsed summary, and the log itself on demand. A :class:`RunResult`
is that of a run adasim wrote, with the run's config. Importing this module imports
nothing heavy (the analysis is imported when a method needs it).

The other jobs return their own results, each with ``to_pandas()``:
:class:`adasim.jobs.offline_run.OfflineResult`, :class:`adasim.jobs.ope_run.OPERun`,
:class:`adasim.jobs.sweep_backends.SweepResult` and
:class:`adasim.jobs.diagnose.DiagnoseResult`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from analysis.lift_table import LiftTable
    from analysis.report import Report
    from simulator.config import Config


@dataclass(frozen=True, eq=False)
class ReportResult:
    """The A/B report of a log folder, as ``adasim report`` writes and prints it.

    Attributes:
        run_dir: The folder of the log (``events/``, ``users.parquet``).
        report: Everything the report computed and wrote (effects, SRM, figures, paths).
        summary: ``summary.json`` as written, parsed (the lift table's cells, the effects,
            the config of the report and, for a run of adasim, its ``seed``).
    """

    run_dir: Path
    report: Report
    summary: dict[str, Any]

    @property
    def table(self) -> LiftTable:
        """The headline lift table; ``print`` it for the table ``adasim run`` prints."""
        return self.report.lift_table

    @property
    def report_md(self) -> Path:
        """Path of ``report.md``."""
        return self.report.markdown

    @property
    def report_html(self) -> Path:
        """Path of the self-contained ``report.html``."""
        return self.report.html

    @property
    def summary_json(self) -> Path:
        """Path of ``summary.json``."""
        return self.report.summary

    def to_pandas(self) -> pd.DataFrame:
        """The lift table's cells, one row per (metric, segment); empty without a table."""
        return self.table.to_pandas()

    def to_dicts(self) -> list[dict[str, Any]]:
        """The lift table's cells as JSON-ready dicts (``summary["lift_table"]``)."""
        return self.table.to_dicts()

    def events(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The A/B event log (``run_dir/events``), one row per impression.

        Args:
            columns: Columns to read (default: all of them).
        """
        from analysis.tables import load_events

        return load_events(self.run_dir / "events", columns=columns)

    def __str__(self) -> str:
        """The table that ``adasim report`` prints: the lift table, else the effects."""
        if len(self.table):
            return str(self.table)
        return str(self.report.analysis.effects.filter(lambda r: r.segment == "all"))

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


@dataclass(frozen=True, eq=False)
class RunResult(ReportResult):
    """A finished ``adasim run`` and its report (:func:`adasim.run`).

    Attributes:
        run_dir: The run folder (``config.toml``, ``events/``, ``report.md``, ...).
        report: Everything the report computed and wrote (effects, SRM, figures, paths).
        summary: ``summary.json`` as written, parsed.
        config: The run's resolved config (``run_dir/config.toml``).

    Example:
        >>> import adasim
        >>> result = adasim.run("configs/quick.toml", "runs/quick")  # doctest: +SKIP
        >>> print(result.table)  # doctest: +SKIP
        >>> cells, log = result.to_pandas(), result.events()  # doctest: +SKIP
    """

    config: Config


def read_summary(report: Report) -> dict[str, Any]:
    """``summary.json`` of ``report``, parsed, as it was written."""
    data: dict[str, Any] = json.loads(Path(report.summary).read_text(encoding="utf-8"))
    return data


__all__ = ["ReportResult", "RunResult", "read_summary"]
