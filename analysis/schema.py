"""The tables ``analysis`` reads, and the metrics it computes from them.

``analysis`` works on any event log with these columns (DESIGN section 6), simulated or
real, so it keeps its own copy of the contract rather than importing the simulator. The
copy must stay equal to ``simulator.types.EVENT_COLUMNS`` / ``USER_COLUMNS``; a test checks
that when the simulator is importable.

Only the columns in :data:`REQUIRED_EVENT_COLUMNS` are needed for A/B statistics; the rest
(``pscore``, ground truth ``true_*``) are used by OPE and the report when present.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError, SchemaError

EVENT_COLUMNS: dict[str, str] = {
    "minute": "int64",
    "day": "int32",
    "user_id": "int64",
    "item_id": "int64",
    "arm": "string",
    "session_id": "int64",
    "step": "int32",
    "pscore": "float64",
    "listen_seconds": "float64",
    "item_seconds": "float64",
    "finish": "bool",
    "skip": "bool",
    "like": "bool",
    "comment": "bool",
    "dislike": "bool",
    "true_finish_prob": "float64",
    "true_noise_skip": "bool",
}
"""Column name -> dtype of one impression row of the event log (DESIGN section 6)."""

USER_COLUMNS: dict[str, str] = {
    "user_id": "int64",
    "arm": "string",
    "registration_day": "int32",
    "cohort": "string",
}
"""Required columns of ``users.parquet``: one row per assigned user (extra columns allowed)."""

REQUIRED_EVENT_COLUMNS: tuple[str, ...] = (
    "day",
    "user_id",
    "item_id",
    "session_id",
    "listen_seconds",
    "finish",
    "like",
    "comment",
    "dislike",
)
"""The event columns that per-user A/B metrics need."""

REQUIRED_USER_COLUMNS: tuple[str, ...] = ("user_id", "arm", "registration_day")
"""The user columns that per-user A/B metrics need (``cohort`` is recomputed)."""


@dataclass(frozen=True)
class MetricDef:
    """One metric of the per-user table: a mean of a column or a ratio of two means.

    A ratio metric is the ratio of the arm means ``mean(numer) / mean(denom)`` (e.g. duration
    per session = total duration / total sessions), analysed with the delta method; a simple
    metric has ``denom=None``.

    Attributes:
        name: Metric name as it appears in results, e.g. ``"duration_per_session"``.
        numer: Per-user column of the numerator (or of the value for a simple metric).
        denom: Per-user column of the denominator, ``None`` for a simple mean.
        unit: Unit of the metric, shown in tables and figure axes.
        description: One line for the report.
    """

    name: str
    numer: str
    denom: str | None = None
    unit: str = ""
    description: str = ""

    @property
    def is_ratio(self) -> bool:
        """Whether the metric is a ratio of two means."""
        return self.denom is not None

    @property
    def columns(self) -> tuple[str, ...]:
        """Per-user columns the metric reads (numerator, then denominator)."""
        return (self.numer,) if self.denom is None else (self.numer, self.denom)


PRE_PREFIX = "pre_"
"""Prefix of a pre-period covariate column: ``pre_duration`` is ``duration`` before the test."""

HAS_PRE_COLUMN = "has_pre"
"""Per-user flag: the user was registered before the pre-period ended (has a covariate)."""

COUNT_COLUMNS: tuple[str, ...] = (
    "active_days",
    "duration",
    "sessions",
    "impressions",
    "finishes",
    "likes",
    "comments",
    "dislikes",
)
"""Per-user count columns computed by :func:`analysis.metrics.user_metrics`."""

DEFAULT_METRICS: tuple[MetricDef, ...] = (
    MetricDef("active_days", "active_days", unit="days", description="days with >= 1 play"),
    MetricDef("duration", "duration", unit="s", description="total listening time"),
    MetricDef("sessions", "sessions", unit="sessions", description="number of sessions"),
    MetricDef("impressions", "impressions", unit="songs", description="songs served"),
    MetricDef("finishes", "finishes", unit="songs", description="songs played to the end"),
    MetricDef("likes", "likes", unit="likes", description="likes"),
    MetricDef("comments", "comments", unit="comments", description="comments"),
    MetricDef("dislikes", "dislikes", unit="dislikes", description="dislikes"),
    MetricDef(
        "duration_per_session",
        "duration",
        "sessions",
        unit="s/session",
        description="listening time per session (ratio of means, delta method)",
    ),
    MetricDef(
        "finish_rate",
        "finishes",
        "impressions",
        unit="finishes/impression",
        description="share of served songs played to the end (ratio of means)",
    ),
)
"""The metrics of the A/B report: eight per-user counts and two ratio metrics."""


def metric_by_name(
    names: Iterable[str | MetricDef] | None, known: Iterable[MetricDef] = DEFAULT_METRICS
) -> tuple[MetricDef, ...]:
    """Resolve metric names (or definitions) to :class:`MetricDef` records.

    Args:
        names: Metric names or definitions; ``None`` means every metric in ``known``.
        known: The metric definitions a name may refer to.

    Returns:
        The definitions, in the order given.

    Raises:
        AnalysisError: A name is not a known metric (the message lists the known ones).
    """
    known_map = {m.name: m for m in known}
    if names is None:
        return tuple(known_map.values())
    out: list[MetricDef] = []
    for name in names:
        if isinstance(name, MetricDef):
            out.append(name)
        elif name in known_map:
            out.append(known_map[name])
        else:
            raise AnalysisError(
                f"metric {name!r} is unknown; known metrics: {sorted(known_map)} "
                "(or pass an analysis.schema.MetricDef)"
            )
    if not out:
        raise AnalysisError("metrics == [], must name at least one metric")
    return tuple(out)


def check_columns(frame: pd.DataFrame, required: Iterable[str], table: str) -> None:
    """Raise :class:`SchemaError` if ``frame`` lacks any of ``required``.

    Args:
        frame: The table to check.
        required: Column names that must be present.
        table: Name of the table for the message, e.g. ``"events"``.
    """
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{table} is missing columns {missing}; it has {list(frame.columns)} "
            "(the documented columns are in analysis.schema)"
        )


def check_finite(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise :class:`AnalysisError` if a numeric column holds NaN or infinite values.

    Args:
        frame: The table to check.
        columns: Columns that must be finite.
        table: Name of the table for the message.
    """
    for col in columns:
        values = frame[col].to_numpy()
        if values.dtype.kind in "fc":
            bad = ~np.isfinite(values)
            if bad.any():
                raise AnalysisError(
                    f"{table}[{col!r}] has {int(bad.sum())} NaN or infinite values "
                    f"(first at row {int(np.flatnonzero(bad)[0])}); must be finite"
                )
        elif values.dtype == object and pd.isna(frame[col]).any():
            raise AnalysisError(f"{table}[{col!r}] has missing values; must be complete")


__all__ = [
    "COUNT_COLUMNS",
    "DEFAULT_METRICS",
    "EVENT_COLUMNS",
    "HAS_PRE_COLUMN",
    "PRE_PREFIX",
    "REQUIRED_EVENT_COLUMNS",
    "REQUIRED_USER_COLUMNS",
    "USER_COLUMNS",
    "MetricDef",
    "check_columns",
    "check_finite",
    "metric_by_name",
]
