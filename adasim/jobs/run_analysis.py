"""Analysis of a finished experiment run: A/B report, twin truth, the paper's table.

Part of the composition root (with ``adasim/cli.py`` and ``adasim/registry.py``):
it turns the experiment's config into the analysis package's options and calls it. The
statistics themselves live in :mod:`analysis`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from adasim.jobs.retrieval_recall import RecallResult, treatment_recall
from adasim.jobs.tuned_run import tuning_note
from analysis.abtest import ABConfig, analyze_experiment
from analysis.exposure import (
    EXPOSURE_COLUMNS,
    HEAD_SHARE,
    ExposureConfig,
    exposure_tables,
    head_items,
    release_days,
)
from analysis.lift_table import LiftTable, joint_lifts, lift_cells
from analysis.metrics import MetricsWindow, load_events, user_metrics
from analysis.report import Report, ReportConfig, ReportSection, write_report
from analysis.report_overrides import ReportOverrides
from analysis.results import ResultCollection
from analysis.schema import REQUIRED_EVENT_COLUMNS
from analysis.tables import load_users, read_table
from analysis.twin import TrueEffect, twin_effects, twin_effects_from_runs
from analysis.twin_spread import TrueEffectSpread, truth_spread
from simulator.config import Config, load_config
from simulator.engine.experiment import (
    VARIANTS,
    RunLayout,
    build_world,
    replicate_layouts,
    run_finished,
)
from simulator.errors import ConfigError


@dataclass(frozen=True)
class RunAnalysis:
    """What :func:`analyse_run` wrote.

    Attributes:
        table: The paper's table 1 (A/B lifts, joint intervals, the twin's truth, ``!``
            where an interval misses it); ``str(table)`` is the aligned text with its
            legend that ``adasim run`` prints, ``table.to_pandas()`` the cells.
        report_md: Path of ``report.md``.
        summary: Path of ``summary.json``.
        report: Everything the report computed and wrote (effects, SRM, figures, html).
    """

    table: LiftTable
    report_md: Path
    summary: Path
    report: Report


AB_TRAINING = {
    "own_arm": "in the A/B test each model learned from its own arm's share of the traffic "
    "only (experiment.training_data = own_arm)",
    "pooled": "in the A/B test every model learned from all arms' traffic, the other "
    "policies' feedback included (experiment.training_data = pooled)",
    "snapshot": "in the A/B test the models stayed as the pre-period left them "
    "(experiment.training_data = snapshot)",
    "weighted": "in the A/B test every model learned from all arms' traffic, each row "
    "weighted by the share of its song's rows that the model's own arm served, over that "
    "arm's share of the users (Si 2023's weighted training; experiment.training_data = "
    "weighted)",
}
"""What the A/B run's learners trained on, per training-data design, for the report."""


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


def _pair(config: Config, ab: ABConfig, treatment: str) -> ABConfig:
    """``ab`` for ``treatment`` against ``ab.control``, with their intended split (SRM)."""
    shares = config.arms[treatment].share, config.arms[ab.control].share
    return replace(ab, treatment=treatment, expected_share=shares[0] / (shares[0] + shares[1]))


def run_report_config(config: Config, overrides: ReportOverrides | None = None) -> ReportConfig:
    """The report options of a run: its arms, alpha, window and title, then ``overrides``.

    Raises:
        ConfigError: An overridden arm is not one of the run's arms.
    """
    exp = config.experiment
    window = experiment_window(config)
    base = ReportConfig(
        ab=ABConfig(control=exp.control, treatment=exp.treatment, alpha=exp.alpha),
        window=window,
        new_user_days=window.new_user_days,
    )
    cfg = base if overrides is None else overrides.apply(base)
    for role, arm in (("control", cfg.ab.control), ("treatment", cfg.ab.treatment)):
        if arm not in config.arms:
            raise ConfigError(
                f"{role} == {arm!r}, must be one of the run's arms: {', '.join(config.arms)}"
            )
    return replace(
        cfg,
        ab=_pair(config, cfg.ab, cfg.ab.treatment),
        title=f"{config.name}: {cfg.ab.treatment} vs {cfg.ab.control}",
    )


_DAY_COLUMNS = ["arm", "day", "n_impressions", "coverage", "n_items", "coverage_share", "gini"]
"""The per-day table of the report: coverage and concentration (summary.json has all)."""


def _twin_logs(layout: RunLayout) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each twin world's events (the columns the report reads) and users, by variant."""
    columns = list(dict.fromkeys([*REQUIRED_EVENT_COLUMNS, *EXPOSURE_COLUMNS]))
    out = {}
    for variant in VARIANTS[1:]:
        root = layout.events(variant)
        out[variant] = (
            load_events(root / "events", columns=columns),
            load_users(root / "users.parquet"),
        )
    return out


def _truth_spread(
    config: Config,
    layout: RunLayout,
    window: MetricsWindow,
    first: ResultCollection[TrueEffect],
    level: float,
) -> ResultCollection[TrueEffectSpread]:
    """The truth over the twin pairs (``experiment.twin_replicates``), the first given."""
    pairs = [first]
    for part in replicate_layouts(layout, config):
        pairs.append(
            twin_effects_from_runs(
                part.events("twin_control"), part.events("twin_treatment"), window
            )
        )
    return truth_spread(pairs, level)


def _spread_section(spread: ResultCollection[TrueEffectSpread], level: float) -> ReportSection:
    """The truth's spread over training seeds, with a warning where one twin is not enough."""
    n = spread[0].n_seeds if len(spread) else 1
    if n < 2:
        text = (
            "One twin pair: how far its truth would move with other agent seeds "
            "(training randomness alone) is unmeasured. WARNING: a single twin may not pin "
            "the true effect down; set experiment.twin_replicates >= 3 to measure it."
        )
    else:
        shaky = [r for r in spread if r.single_twin_unreliable]
        text = (
            f"The twin pair run again with {n - 1} other agent seed(s) on the same world "
            "(initial weights, pre-training, pre-period and updates all redrawn): mean of "
            f"the true relative effect over the {n} seeds with a {level:.0%} Student-t "
            "interval, their standard deviation and range; 'first' is the pair "
            "of the A/B run's own pre-period, the headline's truth."
        )
        if shaky:
            text += (
                f" WARNING: in {len(shaky)} of {len(spread)} cells a single twin cannot pin "
                "the truth down (its spread over seeds reaches zero from the mean, so its "
                "sign depends on the seed): "
                + ", ".join(f"{r.metric} ({r.segment})" for r in shaky)
                + "."
            )
    return ReportSection(
        "True effect over training seeds",
        text=text,
        table=spread.to_pandas(),
        key="twin_replicates",
    )


def _exposure(
    config: Config,
    layout: RunLayout,
    events: pd.DataFrame,
    window: MetricsWindow,
    twin_logs: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[list[ReportSection], dict[str, Any]]:
    """The exposure sections of the report and the ``exposure`` entry of ``summary.json``.

    The head is the experiment's pre-period's (the history's when the run has none): a
    property of the world before the test, so report options never move it. The twins
    share the A/B run's catalogue and head, and are arms of their own.
    """
    exp = config.experiment
    history = layout.history() / "events"
    if exp.pre_days > 0:
        before = events[events["day"] < exp.pre_days]
        reference = f"the pre-period (the days before day {exp.pre_days})"
    elif history.is_dir():
        before = load_events(history, columns=["item_id"])
        reference = "the history (the logged past before day 0)"
    else:  # nothing was shown before the test: no item is head
        before = events.iloc[:0]
        reference = "before the experiment (none: no pre-period, no history)"
    head = head_items(before, HEAD_SHARE)
    logs = [events[list(EXPOSURE_COLUMNS)]]
    for variant, (twin, _) in twin_logs.items():
        logs.append(twin[list(EXPOSURE_COLUMNS)].assign(arm=variant.replace("_", ":", 1)))
    log = pd.concat(logs, ignore_index=True)
    release = release_days(
        read_table(layout.root / "items.parquet", ["item_id", "release_day"], what="items")
    )
    rules = ExposureConfig(start_day=window.start_day, end_day=window.end_day)
    arms, days = exposure_tables(log, release, head, rules)
    text = (
        f"What each arm showed over days {rules.start_day} to {rules.end_day - 1}"
        + (", with the twin worlds (everyone on one agent) as arms twin:*" if exp.twin else "")
        + ". Coverage: distinct items shown a day, and its share of the catalogue released "
        "by then; Gini of exposure over that catalogue (items not shown count as zero). "
        f"New items: released fewer than {rules.new_item_days} days before. Tail: outside "
        f"the head, the {HEAD_SHARE:.0%} most shown items of {reference} ({len(head)} "
        "items); new items are tail. Dislikes per 1,000 impressions split by the "
        f"probability of the pick: exploration when pscore < {rules.exploration_pscore}, "
        "exploitation otherwise."
    )
    sections = [
        ReportSection("Exposure", text=text, table=arms.to_pandas(), key="exposure"),
        ReportSection(
            "Exposure by day",
            text="Catalogue coverage and exposure Gini per arm and day.",
            table=days.to_pandas()[_DAY_COLUMNS],
            key="exposure_by_day",
        ),
    ]
    summary = {
        "config": {**asdict(rules), "head_share": HEAD_SHARE, "n_head_items": len(head)},
        "arms": arms.to_dicts(),
        "days": days.to_dicts(),
    }
    return sections, summary


def _retrieval_recall(config: Config, layout: RunLayout) -> list[RecallResult]:
    """Recall@N of the treatment's retrieval per experiment day (empty without one)."""
    if not layout.serving(config.experiment.pre_days).is_file():
        return []
    return treatment_recall(config, layout.root, build_world(config))


def finished_run_config(root: str | Path) -> Config | None:
    """The config of a finished ``adasim run`` in ``root``, or ``None`` if it is not one.

    A finished run has a ``config.toml`` with arms and every variant done (the A/B test
    and, when configured, both twins); anything else is a plain log for
    :func:`analysis.report.build_report`.
    """
    layout = RunLayout(Path(root))
    path = layout.root / "config.toml"
    if not path.is_file():
        return None
    config = load_config(path)
    if not config.arms or not run_finished(layout, config):
        return None
    return config


def analyse_run(
    config: Config,
    root: str | Path,
    *,
    overrides: ReportOverrides | None = None,
    out_dir: str | Path | None = None,
) -> RunAnalysis:
    """Write the report of a finished run and return the paper-shaped table.

    ``adasim run`` calls it after the experiment and ``adasim report RUN_DIR`` again on
    the finished run, so a rebuilt report is the run's own, byte for byte.

    Args:
        config: The run's resolved config (``RUN_DIR/config.toml``).
        root: The run directory.
        overrides: Report options that replace the run's (alpha, arms, window, ...).
        out_dir: Where to write the report (default ``root``).
    """
    layout = RunLayout(Path(root))
    exp = config.experiment
    cfg = run_report_config(config, overrides)
    ab, window = cfg.ab, cfg.window
    assert window is not None  # run_report_config always sets the run's window
    control, treatment = ab.control, ab.treatment
    truth = None
    spread = None
    sections: list[ReportSection] = []
    # Each twin log is read once: the true effects and the exposure sections share it.
    twin_logs = _twin_logs(layout) if exp.twin else {}
    if exp.twin:
        (c_events, c_users), (t_events, t_users) = twin_logs.values()
        twin_truth = twin_effects(
            user_metrics(c_events, c_users, window), user_metrics(t_events, t_users, window)
        )
        # The twins ran the configured pair: their truth is the headline's only for it.
        if (control, treatment) == (exp.control, exp.treatment):
            truth = twin_truth
        sections.append(
            ReportSection(
                "True effects (twin runs)",
                text=(
                    "The same world with the same random numbers, run once with every user "
                    "on control and once with every user on treatment, from the same end of "
                    "the pre-period. The difference is the true effect of shipping the "
                    "treatment, whose model would learn from all the traffic; "
                    + AB_TRAINING[exp.training_data]
                    + ", so the A/B estimate may differ from it beyond sampling error."
                ),
                table=twin_truth.to_pandas(),
                key="twin_truth",
            )
        )
        spread = _truth_spread(config, layout, window, twin_truth, 1 - ab.alpha)
        sections.append(_spread_section(spread, 1 - ab.alpha))
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
    others = [a for a in config.arms if a not in (control, treatment)]
    other_cells: dict[str, list[dict[str, Any]]] = {}
    # The log is read once: the other arms' tables and the report share it.
    users = load_users(layout.root / "users.parquet")
    events = load_events(
        layout.root / "events",
        columns=list(dict.fromkeys([*REQUIRED_EVENT_COLUMNS, *EXPOSURE_COLUMNS])),
    )
    per_user = user_metrics(events, users, window) if others else None
    for arm in others:
        assert per_user is not None
        pair = per_user[per_user["arm"].isin([control, arm])]
        arm_ab = _pair(config, ab, arm)
        effects = analyze_experiment(pair, config=arm_ab).effects
        cells = lift_cells(effects, joint=joint_lifts(pair, arm_ab))
        other_cells[arm] = cells.to_dicts()
        sections.append(
            ReportSection(
                f"{arm} vs {control}",
                text=cells.to_markdown(),
                table=effects.to_pandas(),
                key=f"arm_{arm}",
            )
        )
    note = tuning_note(layout.root)
    if note is not None:
        sections.append(ReportSection("Tuning", text=note, key="tuning"))
    exposure_sections, exposure = _exposure(config, layout, events, window, twin_logs)
    sections += exposure_sections
    recall = _retrieval_recall(config, layout)
    if recall:
        sections.append(
            ReportSection(
                f"Retrieval recall of {treatment}",
                text=(
                    f"At the start of each experiment day, for {recall[0].n_users} sampled "
                    "users: the share of each user's N truly best released songs (the "
                    "world's affinity, the oracle's ranking) among the N songs the treatment's "
                    "retrieval returns (N = its n_candidates), beside the same for its N most "
                    "shown songs (popularity: the same list for everyone), and the distinct "
                    "songs retrieved over the sample (N: no personalisation)."
                ),
                table=pd.DataFrame([asdict(r) for r in recall]),
                key="retrieval_recall",
            )
        )
    report = write_report(
        events,
        users,
        window,
        layout.root if out_dir is None else Path(out_dir),
        config=cfg,
        extra_sections=sections,
        n_items=len(read_table(layout.root / "items.parquet", ["item_id"], what="items")),
        source=str(layout.root),
        truth=truth,
        truth_spread=spread if truth is not None else None,
    )
    summary = json.loads(report.summary.read_text())
    if other_cells:
        summary["other_arms_lift_tables"] = other_cells
    summary["exposure"] = exposure
    summary["retrieval_recall"] = [asdict(r) for r in recall]
    summary["seed"] = config.seed
    report.summary.write_text(json.dumps(summary, indent=2, sort_keys=True, allow_nan=False))
    return RunAnalysis(
        table=report.lift_table, report_md=report.markdown, summary=report.summary, report=report
    )


__all__ = [
    "RunAnalysis",
    "analyse_run",
    "experiment_window",
    "finished_run_config",
    "run_report_config",
]
