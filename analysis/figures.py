"""Figures of the A/B report (matplotlib, Agg backend; no display needed).

Figures are built with the object-oriented API (``Figure`` without ``pyplot``), which
renders with the Agg backend, needs no display and keeps no global figure state.
Every function takes result objects, returns a :class:`matplotlib.figure.Figure`, and
gives each axes a title and axis labels with units, which a test checks. Save with
:func:`save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from analysis.errors import AnalysisError
from analysis.results import EffectResult, ResultCollection
from analysis.sequential import SequentialResult
from analysis.twin import TrueEffect

_SEGMENT_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


TRUTH_LABEL = "true lift (twin)"
"""Legend entry of the twin's truth markers on the forest plot."""


def forest_plot(
    effects: ResultCollection[EffectResult],
    title: str | None = None,
    truth: ResultCollection[TrueEffect] | None = None,
) -> Figure:
    """Relative lifts with intervals, one row per metric and segment.

    With the twin's truth, each row also carries an ``x`` at the true relative lift, so
    an interval that misses the effect of shipping the treatment is seen at a glance.

    Args:
        effects: Results of ``analysis.abtest.compare``.
        title: Figure title (default names the arms' comparison).
        truth: The twin's true effects (``analysis.twin``); rows without one get no mark.

    Returns:
        The figure.
    """
    rows = [r for r in effects if np.isfinite(r.rel_effect_size)]
    if not rows:
        raise AnalysisError("effects has no finite relative effect to plot")
    true = {(t.metric, t.segment): t.rel_effect_size for t in truth} if truth is not None else {}
    segments = list(dict.fromkeys(r.segment for r in rows))
    metrics = list(dict.fromkeys(r.metric for r in rows))
    n_seg = len(segments)
    fig = Figure(figsize=(8.0, 0.9 + 0.32 * len(rows) + 0.15 * len(metrics)))
    ax = fig.subplots()
    height = 0.8 / n_seg
    labelled: set[str] = set()
    for r in rows:
        i = metrics.index(r.metric)
        j = segments.index(r.segment)
        y = i + (j - (n_seg - 1) / 2) * height
        lo, hi = r.rel_effect_size_ci_lower, r.rel_effect_size_ci_upper
        colour = _SEGMENT_COLOURS[j % len(_SEGMENT_COLOURS)]
        if np.isfinite(lo) and np.isfinite(hi):
            ax.hlines(y, 100 * lo, 100 * hi, color=colour, linewidth=2)
        ax.plot(
            100 * r.rel_effect_size,
            y,
            "o",
            color=colour,
            markerfacecolor=colour if r.significant else "white",
            label=None if r.segment in labelled else r.segment,
        )
        labelled.add(r.segment)
        t = true.get((r.metric, r.segment), np.nan)
        if np.isfinite(t):
            ax.plot(
                100 * t,
                y,
                "x",
                color="black",
                markersize=7,
                markeredgewidth=1.5,
                zorder=3,
                label=None if TRUTH_LABEL in labelled else TRUTH_LABEL,
            )
            labelled.add(TRUTH_LABEL)
    ax.axvline(0, color="grey", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(metrics)))
    ax.set_yticklabels(metrics)
    ax.invert_yaxis()
    ax.set_xlabel(f"relative lift, treatment vs control (%), {100 * (1 - rows[0].alpha):.0f}% CI")
    ax.set_ylabel("metric (per user, by segment)")
    marks = "filled: significant after correction"
    if TRUTH_LABEL in labelled:
        marks = f"Lift by metric and segment\n({marks}; x: the twin's true lift)"
    else:
        marks = f"Lift by metric and segment ({marks})"
    ax.set_title(title or marks)
    # The segments first, the truth marker last, whatever row drew it first.
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: labels[k] == TRUTH_LABEL)
    ax.legend(
        [handles[k] for k in order],
        [labels[k] for k in order],
        title="segment",
        loc="best",
        fontsize="small",
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def cumulative_lift_plot(
    sequence: ResultCollection[SequentialResult],
    units: Mapping[str, str] | None = None,
    segment: str = "all",
) -> Figure:
    """Cumulative daily relative lift with its intervals, one panel per metric.

    Draws the always-valid (mSPRT) band, the group-sequential repeated confidence
    interval (dashed; omitted on days whose boundary is infinite) and the fixed-horizon
    interval (dotted).

    Args:
        sequence: Results of ``analysis.sequential.monitor``.
        units: Metric name -> unit, for the y labels.
        segment: Which segment to draw.

    Returns:
        The figure.
    """
    rows = [r for r in sequence if r.segment == segment]
    if not rows:
        raise AnalysisError(f"sequence has no rows for segment {segment!r}")
    metrics = list(dict.fromkeys(r.metric for r in rows))
    n = len(metrics)
    cols = min(n, 2)
    nrows = int(np.ceil(n / cols))
    fig = Figure(figsize=(6.0 * cols, 3.4 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
    for k, metric in enumerate(metrics):
        ax = axes[k // cols][k % cols]
        mr = sorted((r for r in rows if r.metric == metric), key=lambda r: r.day)
        day = np.array([r.day for r in mr])
        eff = 100 * np.array([r.rel_effect_size for r in mr])
        lo = 100 * np.array([r.rel_effect_size_ci_lower for r in mr])
        hi = 100 * np.array([r.rel_effect_size_ci_upper for r in mr])
        nlo = 100 * np.array([r.naive_rel_ci_lower for r in mr])
        nhi = 100 * np.array([r.naive_rel_ci_upper for r in mr])
        ax.fill_between(
            day, _finite(lo, eff), _finite(hi, eff), alpha=0.25, label="always-valid CI (mSPRT)"
        )
        glo, ghi = _repeated_ci_percent(mr)
        ax.plot(day, glo, "--", color="tab:red", linewidth=1, label="group-sequential CI")
        ax.plot(day, ghi, "--", color="tab:red", linewidth=1)
        ax.plot(day, nlo, ":", color="black", linewidth=1, label="fixed-horizon CI")
        ax.plot(day, nhi, ":", color="black", linewidth=1)
        ax.plot(day, eff, "-o", markersize=3, label="relative lift")
        ax.axhline(0, color="grey", linewidth=1, linestyle="--")
        unit = (units or {}).get(metric, "")
        ax.set_title(f"{metric} ({segment}; per user, {unit or 'metric units'})")
        ax.set_xlabel("day of experiment (day)")
        ax.set_ylabel("cumulative relative lift (%)")
        ax.legend(fontsize="small")
    for k in range(n, nrows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle("Cumulative daily lift with always-valid (mSPRT) and group-sequential intervals")
    fig.tight_layout()
    return fig


def _repeated_ci_percent(
    rows: list[SequentialResult],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    # Days that spend no alpha have an unbounded interval: leave a gap (NaN) there.
    finite = np.array([np.isfinite(r.gst_boundary) for r in rows])
    lo = 100 * np.array([r.gst_rel_ci_lower for r in rows])
    hi = 100 * np.array([r.gst_rel_ci_upper for r in rows])
    return np.where(finite, lo, np.nan), np.where(finite, hi, np.nan)


def _finite(bound: NDArray[np.float64], centre: NDArray[np.float64]) -> NDArray[np.float64]:
    # An unbounded always-valid interval on the first days is drawn as the point estimate.
    return np.where(np.isfinite(bound), bound, centre)


def rank_frequency_plot(
    exposure: Mapping[str, NDArray[np.int64]], title: str | None = None
) -> Figure:
    """Long tail of item exposure: impressions against popularity rank, per arm, log-log.

    Args:
        exposure: Arm -> impressions per item (``analysis.bias.item_exposure``).
        title: Figure title.

    Returns:
        The figure.
    """
    if not exposure:
        raise AnalysisError("exposure is empty; need at least one arm")
    fig = Figure(figsize=(6.5, 4.2))
    ax = fig.subplots()
    for arm, counts in exposure.items():
        c = np.sort(np.asarray(counts))[::-1]
        c = c[c > 0]
        if c.size:
            ax.loglog(np.arange(1, c.size + 1), c, label=f"{arm} ({c.size} items shown)")
    ax.set_xlabel("item popularity rank (1 = most shown, log scale)")
    ax.set_ylabel("impressions per item (count, log scale)")
    ax.set_title(title or "Rank-frequency of item exposure per arm")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG (Agg) and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi, format="png")
    return p


def check_figure_labels(fig: Figure) -> list[str]:
    """Problems with a figure's labelling: each visible axes needs a title and both labels.

    Returns:
        Human-readable problems (empty when the figure is fully labelled).
    """
    problems = []
    has_suptitle = fig.get_suptitle() != ""
    for i, ax in enumerate(a for a in fig.axes if a.get_visible()):
        if not ax.get_title() and not has_suptitle:
            problems.append(f"axes {i} has no title")
        for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if not label:
                problems.append(f"axes {i} has no {name} label")
            elif "(" not in label:
                problems.append(f"axes {i} {name} label {label!r} gives no unit in parentheses")
    return problems


__all__ = [
    "TRUTH_LABEL",
    "check_figure_labels",
    "cumulative_lift_plot",
    "forest_plot",
    "rank_frequency_plot",
    "save_figure",
]
