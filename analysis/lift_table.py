"""The paper's table 1 shape: relative lifts by user state, with the twin's truth beside.

Rows are new users, old users and all users; columns Active Days, Duration, Like, Finish,
Comment, Dislike. Each cell holds the A/B relative lift with its confidence interval,
marked ``*`` when significant after the multiple-testing correction, and, when the twin
ran, the true relative lift.

Each cell's interval is a 95% interval for that cell alone: over the table's 18 cells
about one in twenty misses its target even when every one is calibrated (0.9 expected
misses). A statement about the whole table ("no lift anywhere", "every interval covers
the truth") needs **simultaneous** intervals: :func:`joint_lifts` gives each cell its
interval at level ``alpha / m`` (Bonferroni, ``m`` = the table's cells), so that all ``m``
cover their targets together with probability at least ``1 - alpha`` whatever the
dependence between the cells (they share users and metrics are correlated). They are
wider, and conservative when the cells are correlated. The stars come from the report's
Holm correction over all of its tests (more metrics than the table's), a different
family, so near the threshold a starred cell's joint interval may still cover zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from analysis.abtest import ABConfig, compare
from analysis.results import EffectResult, ResultCollection
from analysis.twin import TrueEffect

PAPER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("active_days", "Active Days"),
    ("duration", "Duration"),
    ("likes", "Like"),
    ("finishes", "Finish"),
    ("comments", "Comment"),
    ("dislikes", "Dislike"),
)
"""(metric, column title) in the paper's order."""

PAPER_ROWS: tuple[tuple[str, str], ...] = (
    ("new", "New users"),
    ("old", "Old users"),
    ("all", "Overall"),
)


@dataclass(frozen=True)
class LiftCell:
    """One cell: the A/B estimate of a relative lift and, if known, the truth.

    Attributes:
        metric: Metric name.
        segment: ``"new"``, ``"old"`` or ``"all"``.
        rel_effect_size: Estimated relative lift.
        rel_effect_size_ci_lower: Lower end of its interval.
        rel_effect_size_ci_upper: Upper end of its interval.
        significant: Significant after the multiple-testing correction.
        true_rel_effect_size: The twin's true relative lift (NaN without a twin).
        joint_ci_lower: Lower end of the simultaneous (Bonferroni) interval over the
            table's cells (NaN when not computed).
        joint_ci_upper: Upper end of that interval.
    """

    metric: str
    segment: str
    rel_effect_size: float
    rel_effect_size_ci_lower: float
    rel_effect_size_ci_upper: float
    significant: bool
    true_rel_effect_size: float
    joint_ci_lower: float = math.nan
    joint_ci_upper: float = math.nan

    @property
    def covers_truth(self) -> bool | None:
        """Whether the interval covers the true lift (``None`` without a twin)."""
        if math.isnan(self.true_rel_effect_size):
            return None
        return (
            self.rel_effect_size_ci_lower
            <= self.true_rel_effect_size
            <= self.rel_effect_size_ci_upper
        )

    @property
    def joint_covers_truth(self) -> bool | None:
        """Whether the simultaneous interval covers the true lift (``None`` if either is
        missing)."""
        if math.isnan(self.true_rel_effect_size) or math.isnan(self.joint_ci_lower):
            return None
        return self.joint_ci_lower <= self.true_rel_effect_size <= self.joint_ci_upper


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:+.2f}%"


N_CELLS = len(PAPER_ROWS) * len(PAPER_COLUMNS)
"""Cells of the table: the family of the simultaneous intervals."""


def joint_lifts(per_user: pd.DataFrame, config: ABConfig) -> ResultCollection[EffectResult]:
    """The table's cells with simultaneous intervals: each at level ``alpha / N_CELLS``.

    The same comparison as the report's (Welch with CUPED, the configured relative
    interval), only at the Bonferroni level and without a further correction. Like the
    report, a cohort with fewer than 2 users in an arm gives NaN, not an error.

    Args:
        per_user: Per-user table (``analysis.metrics.user_metrics``) of the two arms.
        config: The report's comparison options; ``alpha`` is the family's level.

    Returns:
        One result per metric and segment of the table, ``alpha`` set to the per-cell level.
    """
    cfg = replace(
        config,
        alpha=config.alpha / N_CELLS,
        correction="none",
        segments=tuple(seg for seg, _ in PAPER_ROWS),
        on_small_segment="nan",
    )
    return compare(per_user, [metric for metric, _ in PAPER_COLUMNS], cfg)


def lift_cells(
    effects: ResultCollection[EffectResult],
    truth: ResultCollection[TrueEffect] | None = None,
    joint: ResultCollection[EffectResult] | None = None,
) -> ResultCollection[LiftCell]:
    """The cells of the table, rows-major, from the A/B effects and the twin's truth.

    Args:
        effects: The report's effects (per-cell intervals, corrected significance).
        truth: The twin's true effects, if it ran.
        joint: :func:`joint_lifts`, for the simultaneous intervals.
    """
    est = {(r.metric, r.segment): r for r in effects}
    true = {(r.metric, r.segment): r.rel_effect_size for r in truth} if truth is not None else {}
    jnt = {(r.metric, r.segment): r for r in joint} if joint is not None else {}
    cells = []
    for seg, _ in PAPER_ROWS:
        for metric, _ in PAPER_COLUMNS:
            r = est.get((metric, seg))
            if r is None:
                continue
            j = jnt.get((metric, seg))
            cells.append(
                LiftCell(
                    metric,
                    seg,
                    r.rel_effect_size,
                    r.rel_effect_size_ci_lower,
                    r.rel_effect_size_ci_upper,
                    bool(r.significant),
                    true.get((metric, seg), float("nan")),
                    math.nan if j is None else j.rel_effect_size_ci_lower,
                    math.nan if j is None else j.rel_effect_size_ci_upper,
                )
            )
    return ResultCollection(cells, "Relative lifts (treatment vs control)")


def render_lift_table(cells: ResultCollection[LiftCell], markdown: bool = False) -> str:
    """The table as text (aligned columns) or as a markdown table.

    Each cell reads ``+0.21% [-0.10%, +0.52%]*``; below it (text) or after a semicolon
    (markdown) come, when known, the simultaneous interval ``joint [-0.30%, +0.73%]`` and
    the twin's ``true +0.18%``.
    """
    by = {(c.metric, c.segment): c for c in cells}
    has_truth = any(not math.isnan(c.true_rel_effect_size) for c in cells)
    has_joint = any(not math.isnan(c.joint_ci_lower) for c in cells)
    header = ["State", *(title for _, title in PAPER_COLUMNS)]
    lines: list[list[str]] = []
    for seg, title in PAPER_ROWS:
        est_row, joint_row, true_row = [title], [""], [""]
        for metric, _ in PAPER_COLUMNS:
            c = by.get((metric, seg))
            if c is None:
                est_row.append("")
                joint_row.append("")
                true_row.append("")
                continue
            mark = "*" if c.significant else ""
            est_row.append(
                f"{_pct(c.rel_effect_size)} [{_pct(c.rel_effect_size_ci_lower)}, "
                f"{_pct(c.rel_effect_size_ci_upper)}]{mark}"
            )
            joint_row.append(f"joint [{_pct(c.joint_ci_lower)}, {_pct(c.joint_ci_upper)}]")
            true_row.append(f"true {_pct(c.true_rel_effect_size)}")
        extra = ([joint_row] if has_joint else []) + ([true_row] if has_truth else [])
        if markdown:
            est_row = [est_row[0]] + [
                "; ".join([e, *(row[i] for row in extra)]) for i, e in enumerate(est_row[1:], 1)
            ]
            lines.append(est_row)
        else:
            lines += [est_row, *extra]
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in lines]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*row) for row in [header, *lines])


__all__ = [
    "N_CELLS",
    "PAPER_COLUMNS",
    "PAPER_ROWS",
    "LiftCell",
    "joint_lifts",
    "lift_cells",
    "render_lift_table",
]
