"""Analysis of a finished experiment run: A/B report, twin truth, the paper's table.

Part of the composition root (with ``simulator/cli.py`` and ``simulator/registry.py``):
it turns the experiment's config into the analysis package's options and calls it. The
statistics themselves live in :mod:`analysis`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.abtest import ABConfig, analyze_experiment
from analysis.lift_table import N_CELLS, joint_lifts, lift_cells, render_lift_table
from analysis.metrics import MetricsWindow, load_events, user_metrics
from analysis.report import ReportConfig, ReportSection, write_report
from analysis.schema import REQUIRED_EVENT_COLUMNS
from analysis.twin import twin_effects_from_runs
from simulator.config import Config
from simulator.experiment import RunLayout


@dataclass(frozen=True)
class RunAnalysis:
    """What :func:`analyse_run` wrote.

    Attributes:
        table: The paper's table 1 as aligned text (A/B lifts, the twin's truth below).
        report_md: Path of ``report.md``.
        summary: Path of ``summary.json``.
    """

    table: str
    report_md: Path
    summary: Path


def experiment_window(config: Config) -> MetricsWindow:
    """The experiment's analysis window, its pre-period and the cohort rule."""
    exp = config.experiment
    return MetricsWindow(
        start_day=exp.pre_days,
        end_day=exp.n_days,
        pre_start_day=0 if exp.pre_days > 0 else None,
        pre_end_day=exp.pre_days if exp.pre_days > 0 else None,
        new_user_days=config.world.users.new_user_days,
    )


def _training_rows(layout: RunLayout) -> list[dict[str, Any]]:
    path = layout.checkpoints("ab") / "training.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


TABLE_LEGEND = (
    "[ ]: {level:g}% interval of each cell; *: significant after Holm over all the report's "
    "tests; joint: simultaneous {level:g}% intervals over the {n} cells (Bonferroni, each "
    "at alpha {alpha:g}/{n}); true: the twin's true lift."
)
"""Printed under the table: what each part of a cell means."""


def _ab_config(config: Config, treatment: str) -> ABConfig:
    """Comparison options of ``treatment`` against the control arm."""
    exp = config.experiment
    shares = config.arms[treatment].share, config.arms[exp.control].share
    return ABConfig(
        control=exp.control,
        treatment=treatment,
        alpha=exp.alpha,
        expected_share=shares[0] / (shares[0] + shares[1]),
    )


def analyse_run(config: Config, root: str | Path) -> RunAnalysis:
    """Write the report of a finished run and return the paper-shaped table."""
    layout = RunLayout(Path(root))
    exp = config.experiment
    window = experiment_window(config)
    truth = None
    sections: list[ReportSection] = []
    if exp.twin:
        truth = twin_effects_from_runs(
            layout.events("twin_control"), layout.events("twin_treatment"), window
        )
        sections.append(
            ReportSection(
                "True effects (twin runs)",
                text=(
                    "The same world with the same random numbers, run once with every user "
                    "on control and once with every user on treatment, from the same end of "
                    "the pre-period. The difference is the true effect of shipping the "
                    "treatment; in the A/B test each model learns from its own share of "
                    "the traffic only, so the A/B estimate may differ from it beyond "
                    "sampling error."
                ),
                table=truth.to_pandas(),
                key="twin_truth",
            )
        )
    ope = layout.root / "ope" / "ope.json"
    if ope.is_file():
        comparison = json.loads(ope.read_text())["comparison"]
        sections.append(
            ReportSection(
                "Off-policy evaluation of the treatment from the control's log",
                text=(
                    "Each estimator's value of the treatment policy, estimated from the "
                    "control arm's impressions, against the exact truth of that policy on "
                    "the same requests (the world's expected finish probability) and the "
                    "treatment arm's online value. Full tables: ope/ope.md."
                ),
                table=pd.DataFrame(comparison),
                key="ope",
            )
        )
    losses = _training_rows(layout)
    if losses:
        sections.append(
            ReportSection(
                "Learners' training losses",
                text="Mean loss of the last online update of each day, per arm.",
                table=pd.DataFrame(losses),
                key="training_losses",
            )
        )
    control, treatment = exp.control, exp.treatment
    ab = _ab_config(config, treatment)
    others = [a for a in config.arms if a not in (control, treatment)]
    other_cells: dict[str, list[dict[str, Any]]] = {}
    # The log is read once: the lift tables' per-user table and the report share it.
    users = pd.read_parquet(layout.root / "users.parquet")
    events = load_events(layout.root / "events", columns=[*REQUIRED_EVENT_COLUMNS, "arm"])
    per_user = user_metrics(events, users, window)
    joint = joint_lifts(per_user[per_user["arm"].isin([control, treatment])], ab)
    for arm in others:
        pair = per_user[per_user["arm"].isin([control, arm])]
        arm_ab = _ab_config(config, arm)
        effects = analyze_experiment(pair, config=arm_ab).effects
        cells = lift_cells(effects, joint=joint_lifts(pair, arm_ab))
        other_cells[arm] = cells.to_dicts()
        sections.append(
            ReportSection(
                f"{arm} vs {control}",
                text=render_lift_table(cells, markdown=True),
                table=effects.to_pandas(),
                key=f"arm_{arm}",
            )
        )
    report = write_report(
        events,
        users,
        window,
        layout.root,
        config=ReportConfig(
            ab=ab,
            window=window,
            new_user_days=window.new_user_days,
            title=f"{config.name}: {treatment} vs {control}",
        ),
        extra_sections=sections,
        n_items=len(pd.read_parquet(layout.root / "items.parquet", columns=["item_id"])),
        source=str(layout.root),
    )
    cells = lift_cells(report.analysis.effects, truth, joint)
    table = (
        render_lift_table(cells)
        + "\n"
        + TABLE_LEGEND.format(alpha=ab.alpha, level=100 * (1 - ab.alpha), n=N_CELLS)
    )
    summary = json.loads(report.summary.read_text())
    summary["lift_table"] = cells.to_dicts()
    if other_cells:
        summary["other_arms_lift_tables"] = other_cells
    summary["seed"] = config.seed
    report.summary.write_text(json.dumps(summary, indent=2, sort_keys=True))
    return RunAnalysis(table=table, report_md=report.markdown, summary=report.summary)


__all__ = ["RunAnalysis", "analyse_run", "experiment_window"]
