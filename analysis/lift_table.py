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

A cell whose interval excludes the twin's truth is marked ``!``: there the A/B test
misses the effect that shipping the treatment would have (in the simulator mostly because
each arm's model learns from its own share of the traffic only, not from sampling error
alone), so a significant ``*`` next to a ``!`` is not a finding. :class:`LiftTable` is the
table as a result: the cells, ``to_pandas()``, ``to_dicts()`` (``summary.json``), the
aligned terminal text with its legend as ``str()``, markdown and HTML for the report.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from analysis.abtest import ABConfig, compare
from analysis.errors import AnalysisError
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
        truth_outside_ci: The twin's truth lies outside the cell's interval: the A/B
            estimate misses the effect of shipping here (the ``!`` mark). ``False``
            without a twin or without an interval. Computed, not passed.
        truth_outside_joint_ci: The same for the simultaneous interval.
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
    truth_outside_ci: bool = field(init=False)
    truth_outside_joint_ci: bool = field(init=False)

    def __post_init__(self) -> None:
        # Stored, not only a property: summary.json and to_pandas() carry the flags.
        object.__setattr__(
            self,
            "truth_outside_ci",
            _outside(
                self.true_rel_effect_size,
                self.rel_effect_size_ci_lower,
                self.rel_effect_size_ci_upper,
            ),
        )
        object.__setattr__(
            self,
            "truth_outside_joint_ci",
            _outside(self.true_rel_effect_size, self.joint_ci_lower, self.joint_ci_upper),
        )

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


def _outside(truth: float, lower: float, upper: float) -> bool:
    """Whether a known truth lies outside a known interval (unknown ends: no claim)."""
    if any(math.isnan(v) for v in (truth, lower, upper)):
        return False
    return not lower <= truth <= upper


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


DEFAULT_TITLE = "Relative lifts (treatment vs control)"
"""Caption of a table whose arms are not named."""

_SIGNIFICANT = {
    "holm": "significant after Holm over all the report's tests",
    "bh": "significant after Benjamini-Hochberg (false discovery rate) over all the report's tests",
    "none": "significant at alpha {alpha:g}, without a multiple-testing correction",
}
"""What a ``*`` means, by the correction of the report's tests."""

MISS_WARNING = "the A/B estimate misses the effect of shipping there; do not read it as a finding"
"""Why a ``!`` cell must not be read as a result: said in every legend that has truth."""


class LiftTable(ResultCollection[LiftCell]):
    """The paper-shaped table as a result: its cells and how to read them.

    What ``adasim run`` prints, the headline of ``report.md`` and ``report.html`` and
    ``summary.json``'s ``lift_table`` all come from this one object, so they cannot
    disagree. ``str()`` is the aligned terminal table with its legend; :meth:`to_markdown`
    and :meth:`to_html` the report's; ``to_pandas()`` and ``to_dicts()`` one row per cell
    (estimate, per-cell and joint interval, ``significant``, the truth and the
    ``truth_outside_ci`` flag behind the ``!`` mark).

    Args:
        cells: The cells, rows-major (:func:`lift_cells` builds them).
        title: Caption.
        alpha: Level of each cell's interval (the joint ones are at ``alpha / N_CELLS``).
        correction: The correction behind the ``*`` marks: ``"holm"``, ``"bh"``, ``"none"``.

    Example:
        >>> cell = LiftCell("likes", "all", 0.807, 0.329, 1.457, True, -0.016)
        >>> table = LiftTable([cell])
        >>> table[0].truth_outside_ci, "+80.70% [+32.90%, +145.70%]*!" in str(table)
        (True, True)
        >>> list(table.to_pandas().columns[-2:])
        ['truth_outside_ci', 'truth_outside_joint_ci']
    """

    def __init__(
        self,
        cells: Sequence[LiftCell],
        title: str = DEFAULT_TITLE,
        *,
        alpha: float = 0.05,
        correction: str = "holm",
    ) -> None:
        super().__init__(cells, title)
        if not 0 < alpha < 1:
            raise AnalysisError(f"alpha == {alpha!r}, must be in (0, 1)")
        if correction not in _SIGNIFICANT:
            raise AnalysisError(f"correction == {correction!r}, must be 'holm', 'bh' or 'none'")
        self.alpha = alpha
        self.correction = correction

    @property
    def has_truth(self) -> bool:
        """Whether any cell has the twin's truth."""
        return any(not math.isnan(c.true_rel_effect_size) for c in self)

    @property
    def has_joint(self) -> bool:
        """Whether any cell has a simultaneous interval."""
        return any(not math.isnan(c.joint_ci_lower) for c in self)

    @property
    def misses(self) -> tuple[LiftCell, ...]:
        """The cells whose interval excludes the twin's truth (marked ``!``)."""
        return tuple(c for c in self if c.truth_outside_ci)

    def filter(self, predicate: Callable[[LiftCell], bool]) -> LiftTable:
        """A table of the cells for which ``predicate`` is true (same legend)."""
        return LiftTable(
            [c for c in self if predicate(c)],
            self.title,
            alpha=self.alpha,
            correction=self.correction,
        )

    def legend(self, markdown: bool = False) -> str:
        """What each part of a cell means; one line per mark kind (markdown: code spans)."""

        def mark(m: str) -> str:
            return f"`{m}`" if markdown else m

        level = 100 * (1 - self.alpha)
        parts = [
            f"{mark('[ ]')}: {level:g}% interval of each cell",
            f"{mark('*')}: " + _SIGNIFICANT[self.correction].format(alpha=self.alpha),
        ]
        if self.has_joint:
            parts.append(
                f"{mark('joint')}: simultaneous {level:g}% intervals over the {N_CELLS} cells "
                f"(Bonferroni, each at alpha {self.alpha:g}/{N_CELLS})"
            )
        if self.has_truth:
            parts.append(f"{mark('true')}: the twin's true lift")
        lines = ["; ".join(parts) + "."]
        if self.has_truth:
            known = sum(
                not any(
                    math.isnan(v)
                    for v in (
                        c.true_rel_effect_size,
                        c.rel_effect_size_ci_lower,
                        c.rel_effect_size_ci_upper,
                    )
                )
                for c in self
            )
            lines.append(
                f"{mark('!')}: the cell's interval excludes the twin's true lift "
                f"({len(self.misses)} of {known} cells): {MISS_WARNING}."
            )
        return ("\n\n" if markdown else "\n").join(lines)

    def to_text(self) -> str:
        """The aligned terminal table, then its legend."""
        if not len(self):
            return ResultCollection.__str__(self)
        return render_lift_table(self) + "\n" + self.legend()

    def to_markdown(self) -> str:
        """A markdown table (one row per state), then its legend as paragraphs."""
        if not len(self):
            return "_(no rows)_"
        return render_lift_table(self, markdown=True) + "\n\n" + self.legend(markdown=True)

    def to_html(self, caption: bool = True) -> str:
        """An HTML table, a ``!`` cell shaded and its mark in red, then the legend.

        Styles are inline, so the table reads the same in a notebook and in the report.

        Args:
            caption: Show the title as the table's caption (the report has a heading).
        """
        if not len(self):
            return "<p><em>(no rows)</em></p>"
        by = {(c.metric, c.segment): c for c in self}
        head = "".join(
            f"<th>{html.escape(t)}</th>" for t in ["State", *(t for _, t in PAPER_COLUMNS)]
        )
        rows = []
        for seg, state in PAPER_ROWS:
            tds = [f"<td>{html.escape(state)}</td>"]
            for metric, _ in PAPER_COLUMNS:
                c = by.get((metric, seg))
                tds.append("<td></td>" if c is None else _html_cell(c))
            rows.append("<tr>" + "".join(tds) + "</tr>")
        cap = f"<caption>{html.escape(self.title)}</caption>" if caption and self.title else ""
        legend = "".join(f"<p>{html.escape(line)}</p>" for line in self.legend().split("\n"))
        return (
            f'<div class="tbl"><table class="lift-table">{cap}<thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>{legend}"
        )

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"LiftTable({len(self)} cells, {len(self.misses)} missing the truth)\n{self}"

    def _repr_html_(self) -> str:
        return self.to_html()


_MISS_STYLE = "background:#fde8e8"
_MISS_TITLE = "the interval excludes the twin's true lift: " + MISS_WARNING


def _html_cell(c: LiftCell) -> str:
    parts = [html.escape(_estimate(c)) + ("*" if c.significant else "")]
    if c.truth_outside_ci:
        parts[0] += f'<strong style="color:#b00" title="{html.escape(_MISS_TITLE)}">!</strong>'
    if not math.isnan(c.joint_ci_lower):
        parts.append(html.escape(_joint(c)))
    if not math.isnan(c.true_rel_effect_size):
        parts.append(html.escape(_true(c)))
    style = f' style="{_MISS_STYLE}"' if c.truth_outside_ci else ""
    return f"<td{style}>{'<br>'.join(parts)}</td>"


def lift_cells(
    effects: ResultCollection[EffectResult],
    truth: ResultCollection[TrueEffect] | None = None,
    joint: ResultCollection[EffectResult] | None = None,
    *,
    title: str = DEFAULT_TITLE,
) -> LiftTable:
    """The cells of the table, rows-major, from the A/B effects and the twin's truth.

    Args:
        effects: The report's effects (per-cell intervals, corrected significance); their
            ``alpha`` and ``correction`` become the table's, for the legend.
        truth: The twin's true effects, if it ran.
        joint: :func:`joint_lifts`, for the simultaneous intervals.
        title: Caption of the table.
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
    first = next(iter(effects), None)
    return LiftTable(
        cells,
        title,
        alpha=0.05 if first is None else first.alpha,
        correction="holm" if first is None else first.correction,
    )


def _marks(c: LiftCell) -> str:
    return ("*" if c.significant else "") + ("!" if c.truth_outside_ci else "")


def _estimate(c: LiftCell) -> str:
    return (
        f"{_pct(c.rel_effect_size)} [{_pct(c.rel_effect_size_ci_lower)}, "
        f"{_pct(c.rel_effect_size_ci_upper)}]"
    )


def _joint(c: LiftCell) -> str:
    return f"joint [{_pct(c.joint_ci_lower)}, {_pct(c.joint_ci_upper)}]"


def _true(c: LiftCell) -> str:
    return f"true {_pct(c.true_rel_effect_size)}"


def render_lift_table(cells: ResultCollection[LiftCell], markdown: bool = False) -> str:
    """The table as text (aligned columns) or as a markdown table, without the legend.

    Each cell reads ``+0.21% [-0.10%, +0.52%]*``, with ``!`` after it when the interval
    excludes the twin's truth; below it (text) or after a semicolon (markdown) come, when
    known, the simultaneous interval ``joint [-0.30%, +0.73%]`` and the twin's
    ``true +0.18%``. :class:`LiftTable` adds the legend.
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
            est_row.append(_estimate(c) + _marks(c))
            joint_row.append(_joint(c))
            true_row.append(_true(c))
        extra = ([joint_row] if has_joint else []) + ([true_row] if has_truth else [])
        if markdown:
            est_row = [est_row[0]] + [
                "; ".join([e, *(row[i] for row in extra)]) if e else ""
                for i, e in enumerate(est_row[1:], 1)
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
    "DEFAULT_TITLE",
    "MISS_WARNING",
    "N_CELLS",
    "PAPER_COLUMNS",
    "PAPER_ROWS",
    "LiftCell",
    "LiftTable",
    "joint_lifts",
    "lift_cells",
    "render_lift_table",
]
