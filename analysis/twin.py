"""The twin's truth: the effect of shipping the treatment to everyone, measured exactly.

A simulator can run the same world twice with the same random numbers: once with every
user on control, once with every user on treatment. For any metric the difference of the
two runs' per-user means over the same users is the *true* (global) effect that an A/B
test estimates, without sampling error from the split. Reporting it beside the A/B
interval shows whether the interval covers the truth, and how far interference between
the arms (each model learning from half the traffic) moves the A/B estimate.

Works on any two event logs of the same users (the twin's ``twin/control`` and
``twin/treatment`` run directories); it knows nothing about the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.metrics import MetricsWindow, load_events, user_metrics
from analysis.results import ResultCollection
from analysis.schema import REQUIRED_EVENT_COLUMNS, MetricDef, metric_by_name
from analysis.tables import load_users


@dataclass(frozen=True)
class TrueEffect:
    """The exact effect of a metric in one segment, from the twin runs.

    Attributes:
        metric: Metric name.
        segment: ``"all"``, ``"new"`` or ``"old"``.
        n_users: Users of the segment (the same users in both runs).
        control: Per-user mean (or ratio of means) with everyone on control.
        treatment: The same with everyone on treatment.
        effect_size: ``treatment - control``.
        rel_effect_size: ``treatment / control - 1`` (NaN when ``control`` is 0).
    """

    metric: str
    segment: str
    n_users: int
    control: float
    treatment: float
    effect_size: float
    rel_effect_size: float


def _value(table: pd.DataFrame, m: MetricDef) -> float:
    num = float(table[m.numer].mean()) if len(table) else float("nan")
    if m.denom is None:
        return num
    den = float(table[m.denom].mean()) if len(table) else float("nan")
    return num / den if den else float("nan")


def twin_effects(
    control_table: pd.DataFrame,
    treatment_table: pd.DataFrame,
    metrics: tuple[str, ...] | None = None,
    segments: tuple[str, ...] = ("all", "new", "old"),
) -> ResultCollection[TrueEffect]:
    """True effects from two per-user tables of the same users (``user_metrics`` output).

    Args:
        control_table: Everyone on control.
        treatment_table: Everyone on treatment.
        metrics: Metric names (all defaults if ``None``).
        segments: ``"all"`` and/or the cohorts ``"new"`` and ``"old"``.

    Raises:
        AnalysisError: The two tables do not hold the same users.
    """
    c = control_table.set_index("user_id").sort_index()
    t = treatment_table.set_index("user_id").sort_index()
    if not c.index.equals(t.index):
        raise AnalysisError(
            f"twin tables hold different users ({len(c)} vs {len(t)}); "
            "both runs must cover the same population"
        )
    records: list[TrueEffect] = []
    for m in metric_by_name(metrics):
        for seg in segments:
            sel = np.ones(len(c), dtype=bool) if seg == "all" else (c["cohort"] == seg).to_numpy()
            vc, vt = _value(c.loc[sel], m), _value(t.loc[sel], m)
            rel = vt / vc - 1.0 if vc else float("nan")
            records.append(TrueEffect(m.name, seg, int(sel.sum()), vc, vt, vt - vc, rel))
    return ResultCollection(records, "True effects (twin runs)")


def twin_effects_from_runs(
    control_dir: str | Path,
    treatment_dir: str | Path,
    window: MetricsWindow,
    metrics: tuple[str, ...] | None = None,
) -> ResultCollection[TrueEffect]:
    """:func:`twin_effects` from two run directories (``events/`` and ``users.parquet``)."""
    tables = []
    for d in (Path(control_dir), Path(treatment_dir)):
        users = load_users(d / "users.parquet")
        events = load_events(d / "events", columns=list(REQUIRED_EVENT_COLUMNS))
        tables.append(user_metrics(events, users, window))
    return twin_effects(tables[0], tables[1], metrics)


__all__ = ["TrueEffect", "twin_effects", "twin_effects_from_runs"]
