"""The A/B report of a run directory: ``report.md``, ``report.html``, ``summary.json``, figures.

:func:`build_report` reads ``runs/<name>/events/*.parquet`` and ``users.parquet`` (and
``items.parquet`` for the catalogue size when present), computes the per-user table,
effects by metric and segment, SRM, new-versus-old differences, pre-period MDE, daily
cumulative monitoring and exposure bias, and writes:

* ``figures/*.png``: forest plot (with the twin's truth marked when given), cumulative
  daily lift, rank-frequency of exposure;
* ``report.md``: the headline lift table (:class:`analysis.lift_table.LiftTable`: each
  cell's interval, the joint interval, the twin's truth, ``!`` where the interval misses
  it) right under the title, then (with the truth) the gap between each estimate and the
  truth decomposed into sampling error, training randomness and the rest
  (:mod:`analysis.estimand_gap`), the tables and the figures by relative path;
* ``report.html``: self-contained (inline CSS, figures as base64 PNG), one file to mail;
* ``summary.json``: every number the report shows, machine-readable.

Callers add their own sections (a twin-truth table, OPE estimates, adapter weights) as
:class:`ReportSection` records: a title, text, a table of rows and PNG figures; they
appear in all three outputs and under ``extra_sections`` in ``summary.json``.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.abtest import ABConfig, ExperimentAnalysis, analyze_experiment
from analysis.bias import exposure_bias, item_exposure
from analysis.errors import AnalysisError
from analysis.estimand_gap import GapDecomposition, decompose_gap
from analysis.figures import (
    check_figure_labels,
    cumulative_lift_plot,
    forest_plot,
    rank_frequency_plot,
    save_figure,
)
from analysis.lift_table import LiftTable, joint_lifts, lift_cells
from analysis.metrics import (
    MetricsWindow,
    daily_user_metrics,
    infer_window,
    load_events,
    user_metrics,
)
from analysis.power import mde_from_pre_period
from analysis.results import ResultCollection, format_value, jsonable
from analysis.schema import DEFAULT_METRICS, HAS_PRE_COLUMN, REQUIRED_EVENT_COLUMNS, metric_by_name
from analysis.sequential import SequentialConfig, monitor
from analysis.tables import load_users, read_table
from analysis.twin import TrueEffect
from analysis.twin_spread import TrueEffectSpread

Rows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class ReportSection:
    """A section a caller adds to the report.

    Attributes:
        title: Section heading.
        text: Paragraphs (plain text; blank lines separate paragraphs).
        table: Rows of a table (dicts with the same keys) or a DataFrame; ``None``: none.
        figures: PNG files to show (embedded in the HTML).
        key: Key under ``extra_sections`` in ``summary.json`` (default: slug of the title).
    """

    title: str
    text: str = ""
    table: Rows | pd.DataFrame | None = None
    figures: tuple[Path, ...] = ()
    key: str = ""

    def rows(self) -> list[dict[str, Any]]:
        """The table as JSON-ready dicts."""
        if self.table is None:
            return []
        frame = (
            self.table if isinstance(self.table, pd.DataFrame) else pd.DataFrame(list(self.table))
        )
        return [{str(k): jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]

    @property
    def slug(self) -> str:
        """JSON key of the section."""
        return self.key or re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")


@dataclass(frozen=True)
class ReportConfig:
    """What the report computes.

    Attributes:
        ab: Comparison options (arms, alpha, CUPED, correction, segments).
        window: Analysis window; ``None``: inferred from the log (first treated day).
        new_user_days: Cohort rule when the window is inferred.
        metrics: Metric names; ``None``: all defaults.
        monitor_metrics: Metrics of the daily cumulative monitoring figure.
        rel_tau: Mixing standard deviation of the mSPRT, as a relative lift.
        head_fraction: Share of the catalogue that is the popularity head.
        title: Report title.
    """

    ab: ABConfig = field(default_factory=ABConfig)
    window: MetricsWindow | None = None
    new_user_days: int = 7
    metrics: tuple[str, ...] | None = None
    monitor_metrics: tuple[str, ...] = ("active_days", "duration", "finish_rate")
    rel_tau: float = 0.05
    head_fraction: float = 0.2
    title: str = "A/B experiment report"


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` wrote and computed.

    Attributes:
        out_dir: Directory of the outputs.
        markdown: Path of ``report.md``.
        html: Path of ``report.html``.
        summary: Path of ``summary.json``.
        figures: Paths of the PNG figures.
        analysis: The effects, SRM and segment differences.
        lift_table: The headline table (with the twin's truth when it was given; empty
            when the report has none of the table's metrics and segments).
    """

    out_dir: Path
    markdown: Path
    html: Path
    summary: Path
    figures: tuple[Path, ...]
    analysis: ExperimentAnalysis
    lift_table: LiftTable


def build_report(
    run_dir: str | Path,
    *,
    config: ReportConfig | None = None,
    extra_sections: Sequence[ReportSection] = (),
    out_dir: str | Path | None = None,
) -> Report:
    """Analyse a run directory and write the report files.

    Args:
        run_dir: ``runs/<name>`` with ``events/`` and ``users.parquet``.
        config: What to compute; defaults to :class:`ReportConfig()`.
        extra_sections: Caller-provided sections (twin truth, OPE, adapter weights, ...).
        out_dir: Where to write; defaults to ``run_dir``.

    Returns:
        The paths written and the analysis.

    Raises:
        AnalysisError: The run directory lacks ``users.parquet`` or events.
    """
    cfg = config or ReportConfig()
    run = Path(run_dir)
    users_path = run / "users.parquet"
    if not users_path.exists():
        raise AnalysisError(f"run_dir {str(run)!r} has no users.parquet; is it a run directory?")
    users = load_users(users_path)
    events = load_events(run / "events", columns=[*REQUIRED_EVENT_COLUMNS, "arm"])
    n_items = None
    if (run / "items.parquet").exists():
        n_items = len(read_table(run / "items.parquet", ["item_id"], what="items"))
    window = cfg.window or infer_window(
        events, users, control=cfg.ab.control, new_user_days=cfg.new_user_days
    )
    return write_report(
        events,
        users,
        window,
        out_dir=Path(out_dir) if out_dir is not None else run,
        config=cfg,
        extra_sections=extra_sections,
        n_items=n_items,
        source=str(run),
    )


def write_report(
    events: pd.DataFrame,
    users: pd.DataFrame,
    window: MetricsWindow,
    out_dir: str | Path,
    *,
    config: ReportConfig | None = None,
    extra_sections: Sequence[ReportSection] = (),
    n_items: int | None = None,
    source: str = "",
    truth: ResultCollection[TrueEffect] | None = None,
    truth_spread: ResultCollection[TrueEffectSpread] | None = None,
) -> Report:
    """Analyse in-memory tables and write the report files (see :func:`build_report`).

    Args:
        events: The event log (at least the required columns and ``arm``).
        users: One row per user (``users.parquet``).
        window: The analysis window.
        out_dir: Where to write.
        config: What to compute; defaults to :class:`ReportConfig()`.
        extra_sections: Caller-provided sections.
        n_items: Catalogue size, for the coverage of the bias section.
        source: Where the log came from (shown under the title).
        truth: The twin's true effects: shown in the headline table (and ``!`` where an
            interval misses them) and marked on the forest plot; with them the report
            decomposes each cell's gap to the truth (:mod:`analysis.estimand_gap`).
        truth_spread: The truth's spread over the twin pairs' seeds
            (:mod:`analysis.twin_spread`): the training part of the gap.
    """
    cfg = config or ReportConfig()
    out = Path(out_dir)
    fig_dir = out / "figures"
    defs = metric_by_name(cfg.metrics)
    units = {m.name: m.unit for m in DEFAULT_METRICS} | {m.name: m.unit for m in defs}
    table = user_metrics(events, users, window)
    ab = (
        cfg.ab
        if cfg.ab.on_small_segment == "nan"
        else dataclasses.replace(cfg.ab, on_small_segment="nan")
    )
    analysis = analyze_experiment(table, defs, ab)
    headline = lift_cells(
        analysis.effects,
        truth,
        joint_lifts(table, ab),
        title=f"Relative lifts ({ab.treatment} vs {ab.control})",
    )

    gap = None
    if truth is not None:
        by_cell = {(r.metric, r.segment): r for r in truth_spread or ()}
        gap = decompose_gap(headline, by_cell, ab.alpha)

    power = None
    if HAS_PRE_COLUMN in table.columns:
        power = mde_from_pre_period(
            table,
            defs,
            segments=("all", "new", "old"),
            alpha=ab.alpha,
            control=ab.control,
            treatment=ab.treatment,
        )
    monitor_defs = [m for m in defs if m.name in cfg.monitor_metrics]
    columns = tuple(dict.fromkeys(c for m in monitor_defs for c in m.columns))
    sequence = None
    if monitor_defs:
        daily = daily_user_metrics(events, users, window, columns)
        sequence = monitor(
            daily,
            monitor_defs,
            SequentialConfig(
                alpha=ab.alpha, rel_tau=cfg.rel_tau, control=ab.control, treatment=ab.treatment
            ),
        )
    day = events["day"].to_numpy()
    window_events = events.loc[(day >= window.start_day) & (day < window.end_day)]
    bias = exposure_bias(
        window_events, table, n_items=n_items, head_fraction=cfg.head_fraction, control=ab.control
    )

    drawn: list[tuple[str, str, Figure]] = [
        ("Lift by metric and segment", "forest.png", forest_plot(analysis.effects, truth=truth))
    ]
    if sequence is not None and len(sequence):
        drawn.append(
            ("Cumulative daily lift", "cumulative_lift.png", cumulative_lift_plot(sequence, units))
        )
    exposure = item_exposure(window_events, n_items)
    drawn.append(
        ("Rank-frequency of item exposure", "rank_frequency.png", rank_frequency_plot(exposure))
    )
    # Every figure must carry a title, axis labels and units; the check result is recorded.
    figure_checks = {name: check_figure_labels(fig) for _, name, fig in drawn}
    figures = [(caption, save_figure(fig, fig_dir / name)) for caption, name, fig in drawn]

    tables: list[tuple[str, str, ResultCollection[Any] | None, list[str] | None]] = [
        (
            "Effects by metric and segment",
            _effects_text(analysis),
            analysis.effects,
            _EFFECT_COLUMNS,
        ),
        (
            "Sample-ratio mismatch",
            "Chi-square test of the arm split; a p-value below the "
            "threshold means the assignment or logging is broken.",
            analysis.srm,
            None,
        ),
        (
            "New versus old users",
            "Does the effect differ between cohorts? Normal test of the "
            "difference of the two segments' effects.",
            analysis.segment_diffs,
            None,
        ),
        (
            "Minimum detectable effect (pre-period)",
            "Baseline and per-user spread from the pre-period; MDE at 80% power, two-sided.",
            power,
            None,
        ),
        (
            "Daily cumulative monitoring",
            "Always-valid (mSPRT) p-values and intervals may be "
            "checked every day; the fixed-horizon ones may not. The group-sequential "
            "test (Lan-DeMets spending over the window's days, look correlation estimated "
            "from the users) rejects once |log ratio| / se reaches gst_boundary; its "
            "repeated intervals are drawn in the cumulative-lift figure.",
            sequence,
            _SEQ_COLUMNS,
        ),
        (
            "Exposure and popularity bias",
            "Gini of item exposure, catalogue coverage, head "
            f"({cfg.head_fraction:.0%} most popular items) share and popularity lift vs control.",
            bias,
            None,
        ),
    ]
    if gap is not None:
        tables.insert(0, ("The gap to the effect of shipping", _gap_text(gap, ab.alpha), gap, None))
    header = {
        "title": cfg.title,
        "source": source,
        "window": asdict(window),
        "config": jsonable(_config_dict(cfg)),
        "n_users": len(table),
        "n_events": len(events),
    }
    summary = {
        **header,
        "lift_table": headline.to_dicts(),
        "effects": analysis.effects.to_dicts(),
        "srm": analysis.srm.to_dicts(),
        "segment_diffs": analysis.segment_diffs.to_dicts(),
        "power": power.to_dicts() if power is not None else [],
        "sequential": sequence.to_dicts() if sequence is not None else [],
        "bias": bias.to_dicts(),
        "gap": gap.to_dicts() if gap is not None else [],
        "figures": [str(p.relative_to(out)) for _, p in figures],
        "figure_label_problems": figure_checks,
        "extra_sections": {
            s.slug: {
                "title": s.title,
                "text": s.text,
                "rows": s.rows(),
                "figures": [str(f) for f in s.figures],
            }
            for s in extra_sections
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, allow_nan=False))
    md_path = out / "report.md"
    md_path.write_text(_markdown(header, headline, tables, figures, extra_sections, out))
    html_path = out / "report.html"
    html_path.write_text(_html(header, headline, tables, figures, extra_sections))
    return Report(
        out, md_path, html_path, summary_path, tuple(p for _, p in figures), analysis, headline
    )


_EFFECT_COLUMNS = [
    "metric",
    "segment",
    "control",
    "treatment",
    "effect_size",
    "rel_effect_size",
    "rel_effect_size_ci_lower",
    "rel_effect_size_ci_upper",
    "pvalue",
    "pvalue_adjusted",
    "n_control",
    "n_treatment",
    "cuped",
    "var_reduction",
    "note",
]
_SEQ_COLUMNS = [
    "metric",
    "segment",
    "day",
    "effect_size",
    "effect_size_ci_lower",
    "effect_size_ci_upper",
    "pvalue",
    "naive_pvalue",
    "gst_boundary",
    "gst_reject",
    "n_control",
    "n_treatment",
]


def _config_dict(cfg: ReportConfig) -> dict[str, Any]:
    d = asdict(cfg)
    return {k: (v if not is_dataclass(v) else asdict(v)) for k, v in d.items()}  # type: ignore[arg-type]


def _effects_text(analysis: ExperimentAnalysis) -> str:
    cfg = analysis.config
    sig = [r for r in analysis.effects if r.significant]
    lines = [
        f"Welch t-test of {cfg.treatment} against {cfg.control}; relative intervals by the "
        f"{'log-scale delta method' if cfg.rel_ci == 'log_delta' else 'Fieller method'}; "
        f"{'CUPED with pre-period covariates; ' if cfg.cuped else ''}"
        f"p-values adjusted by {cfg.correction} across all rows; alpha = {cfg.alpha}.",
        f"{len(sig)} of {len(analysis.effects)} comparisons are significant after correction"
        + (
            ": " + ", ".join(f"{r.metric} ({r.segment}) {r.rel_effect_size:+.2%}" for r in sig)
            if sig
            else "."
        ),
    ]
    if any(r.mismatch for r in analysis.srm):
        lines.append(
            "WARNING: sample-ratio mismatch detected; do not trust the lifts until explained."
        )
    return "\n\n".join(lines)


def _gap_text(gap: ResultCollection[GapDecomposition], alpha: float) -> str:
    """What the gap table says, and which cells the noise does not explain."""
    lines = [
        "A/B estimate minus the twin's truth, per cell (relative lifts), and what explains "
        "it: sampling error (sampling_sd, from the A/B interval), training randomness "
        "(training_sd, the truth's spread over the twin pairs' seeds) and the rest (the "
        "training-data design's bias, as far as one run shows it: sqrt(max(0, gap^2 - "
        "sampling_sd^2 - training_sd^2)) with the gap's sign). The shares divide the "
        "larger of gap^2 and the noise's variance among the three "
        '(docs/methods/training_data.md, "The gap").'
    ]
    if any(math.isnan(g.training_sd) for g in gap):
        lines.append(
            "Training randomness is unmeasured (one twin pair): set "
            "experiment.twin_replicates >= 3 to measure it; until then the rest includes it."
        )
    beyond = [g for g in gap if not g.within_noise]
    lines.append(
        f"{len(beyond)} of {len(gap)} gaps exceed {1 - alpha:.0%} of the noise"
        + (
            ": " + ", ".join(f"{g.metric} ({g.segment}) {g.gap:+.2%}" for g in beyond)
            if beyond
            else "."
        )
    )
    return "\n\n".join(lines)


def _frame(rc: ResultCollection[Any], columns: list[str] | None) -> pd.DataFrame:
    frame = rc.to_pandas()
    if columns is not None and len(frame):
        frame = frame[[c for c in columns if c in frame.columns]]
    return frame


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return format_value(float(value))
    if isinstance(value, tuple | list):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _md_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_(no rows)_"
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


def _markdown(
    header: Mapping[str, Any],
    headline: LiftTable,
    tables: Sequence[tuple[str, str, ResultCollection[Any] | None, list[str] | None]],
    figures: Sequence[tuple[str, Path]],
    extra: Sequence[ReportSection],
    out: Path,
) -> str:
    w = header["window"]
    parts = [
        f"# {header['title']}",
        f"Source: `{header['source']}`. Window: days {w['start_day']} to {w['end_day'] - 1}; "
        f"pre-period: {w['pre_start_day']} to {w['pre_end_day']} (exclusive); "
        f"{header['n_users']} assigned users, {header['n_events']} events.",
    ]
    if len(headline):
        parts += [f"## {headline.title}", headline.to_markdown()]
    for caption, path in figures:
        parts.append(f"![{caption}]({path.relative_to(out).as_posix()})")
    for title, text, rc, columns in tables:
        if rc is None:
            continue
        parts += [f"## {title}", text, _md_table(_frame(rc, columns))]
    for s in extra:
        parts += [f"## {s.title}", s.text]
        if s.table is not None:
            parts.append(_md_table(pd.DataFrame(s.rows())))
        parts += [f"![{s.title}]({f.as_posix()})" for f in s.figures]
    return "\n\n".join(p for p in parts if p) + "\n"


_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; background: #fff; padding: 0 1em; }
h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .2em; }
h2 { margin-top: 1.6em; color: #1f4e79; }
table { border-collapse: collapse; font-size: 12px; margin: .6em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #eef3f8; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figcaption { font-size: 13px; color: #555; }
img { max-width: 100%; border: 1px solid #ddd; }
.warn { color: #b00; font-weight: bold; }
.tbl { overflow-x: auto; }
"""


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _html_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>(no rows)</em></p>"
    shown = frame.copy()
    for c in shown.columns:
        shown[c] = shown[c].map(_cell)
    return f'<div class="tbl">{shown.to_html(index=False, border=0, escape=True)}</div>'


def _paragraphs(text: str) -> str:
    return "".join(
        f'<p class="warn">{html.escape(p)}</p>'
        if p.startswith("WARNING")
        else f"<p>{html.escape(p)}</p>"
        for p in text.split("\n\n")
        if p.strip()
    )


def _html(
    header: Mapping[str, Any],
    headline: LiftTable,
    tables: Sequence[tuple[str, str, ResultCollection[Any] | None, list[str] | None]],
    figures: Sequence[tuple[str, Path]],
    extra: Sequence[ReportSection],
) -> str:
    w = header["window"]
    body = [
        f"<h1>{html.escape(header['title'])}</h1>",
        f"<p>Source: <code>{html.escape(header['source'])}</code>. Window: days "
        f"{w['start_day']} to {w['end_day'] - 1}; pre-period: {w['pre_start_day']} to "
        f"{w['pre_end_day']} (exclusive); {header['n_users']} assigned users, "
        f"{header['n_events']} events.</p>",
    ]
    if len(headline):
        body += [f"<h2>{html.escape(headline.title)}</h2>", headline.to_html(caption=False)]
    body += [_img(p, c) for c, p in figures]
    for title, text, rc, columns in tables:
        if rc is None:
            continue
        body += [
            f"<h2>{html.escape(title)}</h2>",
            _paragraphs(text),
            _html_table(_frame(rc, columns)),
        ]
    for s in extra:
        body += [f"<h2>{html.escape(s.title)}</h2>", _paragraphs(s.text)]
        if s.table is not None:
            body.append(_html_table(pd.DataFrame(s.rows())))
        body += [_img(f, s.title) for f in s.figures]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(header['title'])}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def load_summary(path: str | Path) -> dict[str, Any]:
    """Read a ``summary.json`` back (``None`` stands for NaN or infinite values)."""
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


__all__ = [
    "Report",
    "ReportConfig",
    "ReportSection",
    "build_report",
    "load_summary",
    "write_report",
]
