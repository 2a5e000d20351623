"""Many experiments: a grid of config overrides crossed with seeded replicates.

A sweep is the cross product of grid axes (``--grid key=v1,v2``) and ``replicates``
replicates. Replicate ``r`` gets the seed

    seed_r = SeedSequence(config.seed).spawn(replicates)[r].generate_state(1, uint64)[0] mod 2**63

and uses it in every grid cell (common random numbers: cells differ only by their grid
values, so differences between cells are not seed noise). Each run is one
:func:`simulator.engine.experiment.run_experiment` plus :func:`adasim.jobs.run_analysis.analyse_run`
in ``<sweep>/runs/<run_id>/``; when it ends (finished or failed) it writes its result rows
atomically to ``<sweep>/results/<run_id>.json``. A sweep started again skips every run
that has a result file, so an interrupted sweep reruns only what is missing.

Every grid cell's config is built and validated before anything is written or run, so a
bad ``--grid`` value (alone or in combination) stops the sweep at once with one line
naming the cell. A run that still raises (a world too small to analyse, say) is recorded
with status ``"failed"`` and its message; the others go on.

The table has one row per run and (metric, segment) of the paper's lift table, in plan
order, and holds no wall times, so the same sweep gives the identical table on every
backend (:mod:`adasim.jobs.sweep_backends`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.config import Config, write_config
from simulator.engine.run_folder import RESULT_NEUTRAL_KEYS
from simulator.errors import ConfigError

RESULT_COLUMNS: tuple[str, ...] = (
    "metric",
    "segment",
    "control",
    "treatment",
    "effect_size",
    "effect_size_ci_lower",
    "effect_size_ci_upper",
    "rel_effect_size",
    "rel_effect_size_ci_lower",
    "rel_effect_size_ci_upper",
    "pvalue",
    "pvalue_adjusted",
    "significant",
    "true_rel_effect_size",
    "covered",
    "n_control",
    "n_treatment",
)
"""Per-(metric, segment) columns of the sweep table, after the run's identity columns."""

FLOAT_COLUMNS: tuple[str, ...] = (
    "control",
    "treatment",
    "effect_size",
    "effect_size_ci_lower",
    "effect_size_ci_upper",
    "rel_effect_size",
    "rel_effect_size_ci_lower",
    "rel_effect_size_ci_upper",
    "pvalue",
    "pvalue_adjusted",
    "true_rel_effect_size",
)
"""Columns of :data:`RESULT_COLUMNS` stored as float64 (NaN where unknown)."""


class SweepError(ConfigError):
    """A sweep's specification breaks a rule (bad ``--grid``, replicates, output dir).

    A :class:`~simulator.errors.ConfigError` like every other bad input, raised before
    anything is written or run.
    """


@dataclass(frozen=True)
class GridAxis:
    """One grid axis: a dotted config key and the values it takes.

    Attributes:
        key: Dotted config path, e.g. ``world.behavior.noise_skip_rate``.
        raw: The values as written (``"0.1"``), used verbatim as ``key=raw`` overrides.
        values: The values parsed as TOML literals (what the table stores).
    """

    key: str
    raw: tuple[str, ...]
    values: tuple[Any, ...]


def parse_grid(text: str) -> GridAxis:
    """Parse ``"key=v1,v2,..."`` into a :class:`GridAxis`.

    Values are TOML literals (``0.1``, ``3``, ``true``, ``"x"``) or bare strings. An axis
    whose values mix ints and floats is stored as floats; other mixtures as strings, so
    every table column has one type.

    >>> parse_grid("arms.treatment.k=1,2,3").values
    (1, 2, 3)
    """
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        raise SweepError(f"--grid {text!r}, must look like section.key=v1,v2,...")
    raw = tuple(v.strip() for v in rest.split(","))
    if not rest.strip() or any(not v for v in raw):
        raise SweepError(f"--grid {text!r}, must list at least one value, none empty")
    if len(set(raw)) != len(raw):
        raise SweepError(f"--grid {text!r}, must not repeat a value")
    values: list[Any] = []
    for v in raw:
        try:
            values.append(tomllib.loads(f"v = {v}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(v)
    kinds = {type(v) for v in values}
    if kinds <= {int, float} and float in kinds:
        values = [float(v) for v in values]
    elif len(kinds) > 1 or not kinds <= {int, float, bool, str}:
        values = list(raw)
    return GridAxis(key, raw, tuple(values))


def replicate_seeds(root_seed: int, replicates: int) -> tuple[int, ...]:
    """Independent integer seeds for ``replicates`` replicates, spawned from ``root_seed``.

    Child ``r`` of ``SeedSequence.spawn`` depends on ``r`` only, so adding replicates to a
    sweep keeps the seeds of the ones it had:

    >>> replicate_seeds(1, 2) == replicate_seeds(1, 3)[:2]
    True
    """
    if replicates < 1:
        raise SweepError(f"replicates == {replicates}, must be >= 1")
    children = np.random.SeedSequence(root_seed).spawn(replicates)
    return tuple(int(c.generate_state(1, np.uint64)[0]) % 2**63 for c in children)


_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    Attributes:
        index: Position in the plan (the table's row order).
        run_id: Deterministic name from the grid values and the replicate.
        cell: ``(key, value)`` per grid axis.
        replicate: Replicate number ``0 .. replicates - 1``.
        seed: The run's root seed.
        overrides: ``key=value`` overrides applied to the base config.
    """

    index: int
    run_id: str
    cell: tuple[tuple[str, Any], ...]
    replicate: int
    seed: int
    overrides: tuple[str, ...]


def plan_runs(config: Config, grid: Sequence[GridAxis], replicates: int) -> tuple[RunSpec, ...]:
    """The runs of a sweep: every grid cell (row-major) times every replicate.

    Each run also gets ``experiment.workers=1`` (a sweep parallelises across runs) and
    ``engine.progress=false``.
    """
    keys = [a.key for a in grid]
    if len(set(keys)) != len(keys):
        raise SweepError(f"--grid keys {keys}, must not repeat a key")
    seeds = replicate_seeds(config.seed, replicates)
    width = len(str(replicates - 1))
    runs: list[RunSpec] = []
    for combo in product(*[range(len(a.values)) for a in grid]):
        cell = tuple((a.key, a.values[i]) for a, i in zip(grid, combo, strict=True))
        grid_over = tuple(f"{a.key}={a.raw[i]}" for a, i in zip(grid, combo, strict=True))
        for r, seed in enumerate(seeds):
            name = "__".join([*(_UNSAFE.sub("_", o) for o in grid_over), f"r{r:0{width}d}"])
            overrides = (
                *grid_over,
                f"seed={seed}",
                "experiment.workers=1",
                "engine.progress=false",
            )
            runs.append(RunSpec(len(runs), name, cell, r, seed, overrides))
    return tuple(runs)


@dataclass(frozen=True)
class RunJob:
    """What a backend ships to a worker: the base config, one run and where to write."""

    config: Config
    run: RunSpec
    sweep_dir: Path
    prune: bool = False


def result_path(sweep_dir: Path, run_id: str) -> Path:
    """Where run ``run_id`` writes its result rows."""
    return sweep_dir / "results" / f"{run_id}.json"


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # readers see the old file or the whole new one, never half


def rows_from_summary(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per lift-table cell, joined with that cell's full A/B effect.

    ``covered`` is ``None`` when the truth or either end of the interval is unknown (no
    twin; or a relative interval that is undefined, e.g. a control mean of zero in a
    small cohort, which the summary stores as ``null``).
    """
    effects = {(e["metric"], e["segment"]): e for e in summary.get("effects", [])}
    rows = []
    for cell in summary["lift_table"]:
        eff = effects.get((cell["metric"], cell["segment"]), {})
        row = {c: eff.get(c) for c in RESULT_COLUMNS}
        row.update({k: cell[k] for k in cell})
        ends = [row.get(c) for c in ("rel_effect_size_ci_lower", "true_rel_effect_size")]
        ends.append(row.get("rel_effect_size_ci_upper"))
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in ends):
            row["covered"] = None
        else:
            lo, true, hi = (float(v) for v in ends)  # type: ignore[arg-type]
            row["covered"] = lo <= true <= hi
        row["significant"] = bool(row["significant"])
        rows.append({c: row.get(c) for c in RESULT_COLUMNS})
    return rows


def failure_result(run: RunSpec, err: BaseException) -> dict[str, Any]:
    """The result record of a run that raised ``err``."""
    message = f"{type(err).__name__}: {err}"
    return {"run_id": run.run_id, "status": "failed", "error": message, "rows": []}


def execute_run(job: RunJob) -> dict[str, Any]:
    """Run one experiment and its analysis; write and return its result record.

    Never raises for a failing run: the error is recorded (status ``"failed"``), so one
    run that breaks (its config was valid: :meth:`SweepSpec.build` checked every cell)
    does not stop the sweep. Module-level so every backend can pickle it.
    """
    from adasim.registry import one_torch_thread

    one_torch_thread()  # one core per run: the sweep parallelises across runs
    run = job.run
    try:
        from adasim.jobs.run_analysis import analyse_run
        from adasim.registry import build_agent
        from simulator.engine.experiment import run_experiment

        config = job.config.with_overrides(run.overrides)
        run_dir = job.sweep_dir / "runs" / run.run_id
        layout = run_experiment(config, run_dir, build_agent, progress=False)
        analysis = analyse_run(config, layout.root)
        summary = json.loads(analysis.summary.read_text())
        record = {
            "run_id": run.run_id,
            "status": "ok",
            "error": "",
            "rows": rows_from_summary(summary),
        }
        if job.prune:
            for sub in ("events", "checkpoints", "twin", ".staging"):
                shutil.rmtree(layout.root / sub, ignore_errors=True)
    except Exception as err:  # a failed run is a result, not a crash
        record = failure_result(run, err)
    atomic_write(result_path(job.sweep_dir, run.run_id), json.dumps(record, sort_keys=True))
    return record


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep: base config, grid, replicates, and its plan.

    Attributes:
        config: The base config (its ``seed`` is the sweep's root seed).
        grid: The grid axes.
        replicates: Replicates per grid cell.
        runs: The plan (:func:`plan_runs`).
    """

    config: Config
    grid: tuple[GridAxis, ...]
    replicates: int
    runs: tuple[RunSpec, ...] = field(default=())
    aa: bool = False

    @classmethod
    def build(cls, config: Config, grid: Sequence[str | GridAxis], replicates: int) -> SweepSpec:
        """Parse the grid, validate every cell's config and plan the runs.

        Each cell is built exactly as its runs will build it (grid values, a seed, one
        worker), so a misspelt key or a bad value, alone or only in combination with
        another axis (shares that no longer sum to 1), stops the sweep here, before a
        directory is made or a run started, rather than after the other cells ran.

        Raises:
            ConfigError: the config has no ``[arms]``.
            SweepError: a bad grid, replicate count, or a cell whose config breaks a rule;
                the message names the cell's values and the rule.
        """
        from adasim.registry import check_agents

        if not config.arms:
            raise ConfigError("config has no [arms]; a sweep runs experiments")
        axes = tuple(g if isinstance(g, GridAxis) else parse_grid(g) for g in grid)
        runs = plan_runs(config, axes, replicates)
        cells: dict[tuple[str, ...], Config] = {}
        for run in runs:
            grid_over = run.overrides[: len(axes)]
            if grid_over in cells:
                continue
            try:
                cells[grid_over] = config.with_overrides(run.overrides, source="--grid")
                check_agents(cells[grid_over])  # a custom agent's factory imports
            except ConfigError as err:
                cell = ", ".join(grid_over)
                raise SweepError(f"--grid cell {cell}: {err}") from None
        aa = all(arms_identical(c) for c in cells.values())
        return cls(config, axes, replicates, runs, aa)

    def manifest(self) -> dict[str, Any]:
        """What identifies the sweep on disk (checked when a sweep resumes)."""
        return {
            "name": self.config.name,
            "root_seed": self.config.seed,
            "replicates": self.replicates,
            "grid": [{"key": a.key, "values": list(a.raw)} for a in self.grid],
            "runs": [{"run_id": r.run_id, "seed": r.seed} for r in self.runs],
            "base_config": self.config.to_toml(),
        }


def arms_identical(config: Config) -> bool:
    """Whether control and treatment are the same arm (shares aside): an A/A test.

    Identical arm configs get identical agents (an agent's seed depends on the root seed
    and its arm's config only), so every rejection in such a run is a false positive.
    """
    exp = config.experiment
    control, treatment = config.arms[exp.control], config.arms[exp.treatment]
    return replace(control, share=1.0) == replace(treatment, share=1.0)


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _config_changes(old_toml: str, new_toml: str) -> list[str]:
    """Keys of the old resolved config whose value changed or that are gone.

    Keys only in the new config are not changes: a config field added to the code since
    the sweep started (with its default) leaves the old runs as they were. Nor are keys
    that change no result (``experiment.workers``, which follows the machine's cores,
    and ``engine.progress``): a sweep may resume on another machine.
    """
    old, new = _flatten(tomllib.loads(old_toml)), _flatten(tomllib.loads(new_toml))
    changed = [k for k in old if k not in new or new[k] != old[k]]
    return [k for k in changed if k not in RESULT_NEUTRAL_KEYS]


def prepare_dir(spec: SweepSpec, sweep_dir: Path) -> None:
    """Create the sweep directory, or check that it holds this very sweep (resume)."""
    manifest = spec.manifest()
    path = sweep_dir / "sweep.json"
    if path.is_file():
        old = json.loads(path.read_text())
        same_plan = all(old.get(k) == manifest[k] for k in manifest if k != "base_config")
        changed = _config_changes(old.get("base_config", ""), manifest["base_config"])
        if not same_plan or changed:
            what = (
                f"config keys changed: {', '.join(changed[:5])}"
                if changed
                else ("grid, seed or replicates changed")
            )
            raise SweepError(
                f"--out {str(sweep_dir)!r} holds a different sweep ({what}); use a new "
                "directory or delete it"
            )
        return
    sweep_dir.mkdir(parents=True, exist_ok=True)
    write_config(spec.config, sweep_dir / "base_config.toml")
    atomic_write(path, json.dumps(manifest, indent=2))


def pending_runs(
    spec: SweepSpec, sweep_dir: Path, retry_failed: bool = False
) -> tuple[RunSpec, ...]:
    """Runs to execute: no result file, a crashed worker, or failed with ``retry_failed``."""
    out = []
    for run in spec.runs:
        path = result_path(sweep_dir, run.run_id)
        if not path.is_file():
            out.append(run)
            continue
        status = json.loads(path.read_text())["status"]
        if status == "crashed" or (retry_failed and status == "failed"):
            out.append(run)
    return tuple(out)


def collect_table(spec: SweepSpec, sweep_dir: Path) -> pd.DataFrame:
    """The sweep table from the result files, in plan order (one row per run x cell).

    A run without a result file yet appears once with status ``"missing"``; a failed run
    once with status ``"failed"`` and its error.
    """
    keys = [a.key for a in spec.grid]
    rows: list[dict[str, Any]] = []
    for run in spec.runs:
        base: dict[str, Any] = {"run_id": run.run_id, **dict(run.cell)}
        base.update(replicate=run.replicate, seed=run.seed)
        path = result_path(sweep_dir, run.run_id)
        record: dict[str, Any] = {"status": "missing", "error": "", "rows": []}
        if path.is_file():
            record = json.loads(path.read_text())
        status, error = record["status"], record["error"]
        cells = record["rows"] or [dict.fromkeys(RESULT_COLUMNS)]
        for cell in cells:
            rows.append({**base, **cell, "status": status, "error": error})
    columns = ["run_id", *keys, "replicate", "seed", *RESULT_COLUMNS, "status", "error"]
    table = pd.DataFrame(rows, columns=columns)
    # Fixed types, whatever ran: a column that is empty in every row (no twin: no truth;
    # only failed runs: no metric) would otherwise be written with Parquet type null.
    for c in FLOAT_COLUMNS:
        table[c] = table[c].astype("float64")
    for c in ("metric", "segment"):
        table[c] = table[c].astype("str")
    for c in ("significant", "covered"):
        table[c] = table[c].astype("boolean")
    for c in ("n_control", "n_treatment"):
        table[c] = table[c].astype("Int64")
    return table


def write_table(table: pd.DataFrame, sweep_dir: Path) -> dict[str, Path]:
    """Write the table as Parquet, JSON (records) and markdown; returns the paths."""
    paths = {
        "parquet": sweep_dir / "table.parquet",
        "json": sweep_dir / "table.json",
        "markdown": sweep_dir / "table.md",
    }
    table.to_parquet(paths["parquet"], index=False)
    atomic_write(paths["json"], table.to_json(orient="records", indent=1))
    atomic_write(paths["markdown"], markdown_table(table))
    return paths


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame`` (floats to 4 significant digits, missing values blank)."""
    lines = [
        "| " + " | ".join(str(c) for c in frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
    ]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


__all__ = [
    "FLOAT_COLUMNS",
    "RESULT_COLUMNS",
    "GridAxis",
    "RunJob",
    "RunSpec",
    "SweepError",
    "SweepSpec",
    "arms_identical",
    "atomic_write",
    "collect_table",
    "execute_run",
    "failure_result",
    "markdown_table",
    "parse_grid",
    "pending_runs",
    "plan_runs",
    "prepare_dir",
    "replicate_seeds",
    "result_path",
    "rows_from_summary",
    "write_table",
]
