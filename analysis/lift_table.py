"""The paper's table 1 shape: relative lifts by user state, with the twin's truth beside.

Rows are new users, old users and all users; columns Active Days, Duration, Like, Finish,
Comment, Dislike. Each cell holds the A/B relative lift with its confidence interval,
marked ``*`` when significant after the multiple-testing correction, and, when the twin
ran, the true relative lift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """

    metric: str
    segment: str
    rel_effect_size: float
    rel_effect_size_ci_lower: float
    rel_effect_size_ci_upper: float
    significant: bool
    true_rel_effect_size: float

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


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:+.2f}%"


def lift_cells(
    effects: ResultCollection[EffectResult],
    truth: ResultCollection[TrueEffect] | None = None,
) -> ResultCollection[LiftCell]:
    """The cells of the table, rows-major, from the A/B effects and the twin's truth."""
    est = {(r.metric, r.segment): r for r in effects}
    true = {(r.metric, r.segment): r.rel_effect_size for r in truth} if truth is not None else {}
    cells = []
    for seg, _ in PAPER_ROWS:
        for metric, _ in PAPER_COLUMNS:
            r = est.get((metric, seg))
            if r is None:
                continue
            cells.append(
                LiftCell(
                    metric,
                    seg,
                    r.rel_effect_size,
                    r.rel_effect_size_ci_lower,
                    r.rel_effect_size_ci_upper,
                    bool(r.significant),
                    true.get((metric, seg), float("nan")),
                )
            )
    return ResultCollection(cells, "Relative lifts (treatment vs control)")


def render_lift_table(cells: ResultCollection[LiftCell], markdown: bool = False) -> str:
    """The table as text (aligned columns) or as a markdown table.

    Each cell reads ``+0.21% [-0.10%, +0.52%]*`` and, with a twin, ``true +0.18%`` below
    (text) or after a semicolon (markdown).
    """
    by = {(c.metric, c.segment): c for c in cells}
    has_truth = any(not math.isnan(c.true_rel_effect_size) for c in cells)
    header = ["State", *(title for _, title in PAPER_COLUMNS)]
    lines: list[list[str]] = []
    for seg, title in PAPER_ROWS:
        est_row, true_row = [title], [""]
        for metric, _ in PAPER_COLUMNS:
            c = by.get((metric, seg))
            if c is None:
                est_row.append("")
                true_row.append("")
                continue
            mark = "*" if c.significant else ""
            est_row.append(
                f"{_pct(c.rel_effect_size)} [{_pct(c.rel_effect_size_ci_lower)}, "
                f"{_pct(c.rel_effect_size_ci_upper)}]{mark}"
            )
            true_row.append(f"true {_pct(c.true_rel_effect_size)}")
        if markdown and has_truth:
            est_row = [est_row[0]] + [
                f"{e}; {t}" for e, t in zip(est_row[1:], true_row[1:], strict=True)
            ]
        lines.append(est_row)
        if has_truth and not markdown:
            lines.append(true_row)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in lines]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*row) for row in [header, *lines])


__all__ = ["PAPER_COLUMNS", "PAPER_ROWS", "LiftCell", "lift_cells", "render_lift_table"]
