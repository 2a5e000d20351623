"""The public API, ``import adasim``: what the commands do, called from Python.

Each function is the library half of the ``adasim`` command of the same name: it calls
the code the command calls, so it writes the same files, byte for byte, and returns a
result instead of printing one; every result has ``to_pandas()``.

=====================  ====================  ===============================================
function               command               returns
=====================  ====================  ===============================================
:func:`load_config`    (``--set``)           :class:`~simulator.config.Config`
:func:`run`            ``adasim run``        :class:`~adasim.results.RunResult`
:func:`report`         ``adasim report``     :class:`~adasim.results.ReportResult`
:func:`ope`            ``adasim ope``        :class:`~adasim.jobs.ope_run.OPERun`
:func:`offline`        ``adasim offline``    :class:`~adasim.jobs.offline_run.OfflineResult`
:func:`sweep`          ``adasim sweep``      :class:`~adasim.jobs.sweep_backends.SweepResult`
:func:`diagnose`       ``adasim diagnose``   :class:`~adasim.jobs.diagnose.DiagnoseResult`
=====================  ====================  ===============================================

Every argument is checked before anything is read, built or written: a bad one raises a
one-line :class:`~simulator.errors.ConfigError` that names the parameter, its value and
the rule. Progress bars are off unless ``progress=True``. Importing this module imports
nothing heavy: each function imports the simulator, the agents (torch) and the analysis
when it is called.

Example:
    >>> from pathlib import Path
    >>> import adasim
    >>> quick = Path(adasim.__file__).parents[1] / "configs" / "quick.toml"
    >>> adasim.load_config(quick, ["world.n_users=500"], seed=3).seed
    3
    >>> adasim.run(quick, keep_checkpoints="every")
    Traceback (most recent call last):
    ...
    simulator.errors.ConfigError: keep_checkpoints == 'every', must be one of 'latest', 'all'
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

from adasim.results import ReportResult, RunResult, read_summary

if TYPE_CHECKING:
    from adasim.jobs.diagnose import DiagnoseResult
    from adasim.jobs.offline_run import OfflineResult
    from adasim.jobs.ope_run import OPERun
    from adasim.jobs.sweep_backends import BackendName, SweepResult
    from analysis.multiple_testing import Correction
    from analysis.ttest import RelCI
    from simulator.config import Config
    from simulator.engine.experiment import KeepCheckpoints

PathLike = str | os.PathLike[str]
"""A file or folder: a ``str`` or a :class:`pathlib.Path`."""


# ------------------------------------------------------------------ argument checks


def _shown(value: object) -> str:
    return repr(os.fspath(value)) if isinstance(value, os.PathLike) else repr(value)


def _fail(name: str, value: object, rule: str) -> NoReturn:
    from simulator.errors import ConfigError

    raise ConfigError(f"{name} == {_shown(value)}, {rule}")


def _path(value: object, name: str) -> Path:
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        _fail(name, value, "must be a path (a non-empty str or os.PathLike)")
    return Path(value)


def _integer(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(name, value, f"must be an integer >= {minimum}")
    if int(value) < minimum:
        _fail(name, value, f"must be >= {minimum}")
    return int(value)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        _fail(name, value, "must be True or False")
    return value


def _choice(value: object, name: str, choices: Sequence[object]) -> None:
    if value not in choices:
        _fail(name, value, f"must be one of {', '.join(map(repr, choices))}")


def _strings(value: object, name: str, example: str, *, empty: bool = True) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        _fail(name, value, f"must be a list or tuple of strings, e.g. {example}")
    for item in value:
        if not isinstance(item, str):
            _fail(name, value, f"must hold strings only, e.g. {example}")
    if not value and not empty:
        _fail(name, value, f"must name at least one, e.g. {example}")
    return tuple(value)


def _as_config(config: object, overrides: Sequence[str] = (), source: str = "--set") -> Config:
    """``config`` itself, or loaded from its path; ``overrides`` applied either way."""
    from simulator.config import Config
    from simulator.config import load_config as load

    if isinstance(config, Config):
        return config.with_overrides(overrides, source=source) if overrides else config
    if not isinstance(config, str | os.PathLike):
        _fail("config", config, "must be a Config (adasim.load_config) or a TOML file's path")
    if not Path(config).is_file():
        _fail("config", config, "must be a Config or the path of a TOML file: no such file")
    return load(Path(config), overrides)


# ------------------------------------------------------------------------ the API


def load_config(
    path: PathLike, overrides: Sequence[str] = (), *, seed: int | None = None
) -> Config:
    """Read a TOML config and apply overrides, as the commands' ``--set`` and ``--seed``.

    Args:
        path: The TOML file, e.g. ``configs/quick.toml``.
        overrides: ``"section.key=value"`` strings (``--set``), applied in order.
        seed: Replaces the root seed (``--seed``), after the overrides.

    Returns:
        The validated, frozen :class:`~simulator.config.Config`.

    Raises:
        ConfigError: missing file, bad TOML, an unknown key, a wrong type or a broken rule;
            the message names the dotted key, the value and the rule.

    Example:
        >>> import adasim
        >>> config = adasim.load_config("configs/quick.toml", seed=3)  # doctest: +SKIP
    """
    from simulator.config import load_config as load

    sets = list(_strings(overrides, "overrides", "['arms.treatment.k=3']"))
    if seed is not None:
        sets.append(f"seed={_integer(seed, 'seed', 0)}")
    return load(_path(path, "path"), sets)


def run(
    config: Config | PathLike,
    out: PathLike | None = None,
    *,
    fresh: bool = False,
    progress: bool = False,
    keep_checkpoints: KeepCheckpoints = "latest",
    workers: int | None = None,
    tuned: PathLike | None = None,
) -> RunResult:
    """Run (or resume) the simulated A/B experiment and write its report: ``adasim run``.

    The pre-period, the A/B run and (if configured) the twins, into ``out``; then the
    report (``report.md``, ``report.html``, ``summary.json``, figures). A run folder
    adasim wrote for the same config is resumed from its last complete day, or, when
    finished, only analysed again.

    Args:
        config: A :class:`~simulator.config.Config` (:func:`load_config`) or a TOML path.
        out: The run folder (default ``runs/<config name>``).
        fresh: Start over: first remove what adasim wrote in ``out`` (only a folder adasim
            created; other files are never deleted).
        progress: Show progress bars (days, learners' losses) on stderr.
        keep_checkpoints: ``"latest"`` (none once finished; the treatment's daily serving
            snapshots stay, for :func:`ope`) or ``"all"`` (every day's).
        workers: Replaces ``experiment.workers`` (0: the cores available, at most 3);
            results do not depend on it.
        tuned: A ``tuned.json`` of ``adasim tune`` (``--tuned``): its arms' ``lr`` and
            ``embed_dim`` replace the config's, the run folder keeps a copy, and arms
            tuned with different budgets give a warning (stored in the copy).

    Returns:
        The :class:`~adasim.results.RunResult`: ``print(result.table)`` is the table
        ``adasim run`` prints, ``result.to_pandas()`` its cells, ``result.summary`` the
        parsed ``summary.json``, ``result.events()`` the A/B log.

    Raises:
        ConfigError: a bad argument, a config without ``[arms]``, a custom agent's
            factory that cannot be imported, or an ``out`` folder that holds something
            else, before any work.

    Example:
        >>> import adasim
        >>> config = adasim.load_config("configs/quick.toml", seed=3)  # doctest: +SKIP
        >>> result = adasim.run(config, "runs/quick-3")  # doctest: +SKIP
        >>> print(result.table)  # doctest: +SKIP
    """
    from simulator.engine.experiment import KEEP_CHECKPOINTS

    fresh, progress = _flag(fresh, "fresh"), _flag(progress, "progress")
    _choice(keep_checkpoints, "keep_checkpoints", KEEP_CHECKPOINTS)
    root = None if out is None else _path(out, "out")
    sets = [] if workers is None else [f"experiment.workers={_integer(workers, 'workers', 0)}"]
    cfg = _as_config(config, sets, source="workers")
    if not cfg.arms:
        _fail("config.arms", {}, "must name the control and the treatment arm ([arms.NAME])")

    from adasim.jobs.run_analysis import analyse_run
    from adasim.jobs.tuned_run import apply_tuned, record_tuned_run
    from adasim.registry import build_agent, check_agents
    from simulator.engine.experiment import run_experiment

    tuned_run = None if tuned is None else apply_tuned(cfg, _path(tuned, "tuned"), "tuned")
    if tuned_run is not None:
        cfg = tuned_run.config
        if tuned_run.warning:
            import warnings

            warnings.warn(tuned_run.warning, stacklevel=2)
    check_agents(cfg)  # a custom agent's factory imports, before any work
    layout = run_experiment(
        cfg,
        Path("runs") / cfg.name if root is None else root,
        build_agent,
        progress=progress,
        fresh=fresh,
        keep_checkpoints=keep_checkpoints,
    )
    if tuned_run is not None:  # before the analysis: the report reads it
        record_tuned_run(tuned_run, layout.root)
    analysis = analyse_run(cfg, layout.root)
    return RunResult(layout.root, analysis.report, read_summary(analysis.report), cfg)


def report(
    run_dir: PathLike,
    out: PathLike | None = None,
    *,
    control: str | None = None,
    treatment: str | None = None,
    alpha: float | None = None,
    cuped: bool | None = None,
    rel_ci: RelCI | None = None,
    correction: Correction | None = None,
    segments: Sequence[str] | None = None,
    start_day: int | None = None,
    end_day: int | None = None,
    pre_start_day: int | None = None,
    new_user_days: int | None = None,
    rel_tau: float | None = None,
) -> ReportResult:
    """Rebuild the A/B report of a run folder: ``adasim report``.

    On a finished ``adasim run`` it is the run's own report (its arms, alpha, window,
    title, twin truth and OPE section); each option given changes only what it names. On
    any other log (``events/`` and ``users.parquet`` with the documented columns) the
    options are the whole configuration, with the defaults of
    :class:`~analysis.report.ReportConfig` and the window inferred from the log.

    Args:
        run_dir: The folder of the log, e.g. ``runs/quick``.
        out: Where to write the report (default ``run_dir``).
        control: Control arm. ``treatment`` likewise.
        treatment: Treatment arm.
        alpha: Significance level of the tests and intervals.
        cuped: Use the pre-period covariates (``False``: ``--no-cuped``).
        rel_ci: Relative-lift interval: ``"log_delta"`` or ``"fieller"``.
        correction: Multiple-testing correction: ``"holm"``, ``"bh"`` or ``"none"``.
        segments: Segment specs: ``all``, ``new``, ``old``, a users column or
            ``column=value``.
        start_day: First day of the window (with ``end_day``).
        end_day: Day after the window's last.
        pre_start_day: First pre-period day (with ``start_day`` and ``end_day``).
        new_user_days: Cohort rule: users this many days old or younger are new.
        rel_tau: Mixing scale of the mSPRT, as a relative lift.

    Returns:
        A :class:`~adasim.results.RunResult` for a run adasim wrote (with its config),
        else a :class:`~adasim.results.ReportResult`; ``to_pandas()`` is the lift table.

    Example:
        >>> import adasim
        >>> strict = adasim.report("runs/quick-3", "runs/quick-3-a01", alpha=0.01)  # doctest: +SKIP
        >>> strict.to_pandas()  # doctest: +SKIP
    """
    from adasim.jobs.run_analysis import analyse_run, finished_run_config, run_report_config
    from analysis.errors import AnalysisError
    from analysis.report import ReportConfig, build_report
    from analysis.report_overrides import ReportOverrides
    from simulator.errors import ConfigError

    root = _path(run_dir, "run_dir")
    if not root.is_dir():
        _fail("run_dir", run_dir, "must be a folder with events/ and users.parquet: no such folder")
    out_dir = None if out is None else _path(out, "out")
    picked = None if segments is None else _strings(segments, "segments", "['all', 'new']")
    config = finished_run_config(root)
    try:
        overrides = ReportOverrides(
            control=control,
            treatment=treatment,
            alpha=alpha,
            cuped=cuped,
            rel_ci=rel_ci,
            correction=correction,
            segments=picked,
            start_day=start_day,
            end_day=end_day,
            pre_start_day=pre_start_day,
            new_user_days=new_user_days,
            rel_tau=rel_tau,
        )
        # Every option is checked on the base it applies to before the log is read.
        if config is None:
            plain = overrides.apply(ReportConfig())
        else:
            run_report_config(config, overrides)
    except AnalysisError as err:
        raise ConfigError(str(err)) from None
    if config is not None:
        done = analyse_run(config, root, overrides=overrides, out_dir=out_dir).report
        return RunResult(root, done, read_summary(done), config)
    written = build_report(root, config=plain, out_dir=out_dir)
    return ReportResult(root, written, read_summary(written))


def ope(
    run_dir: PathLike,
    *,
    n_bootstrap_samples: int = 200,
    rng: int | None = 0,
    progress: bool = False,
) -> OPERun:
    """Estimate the treatment from the control arm's log, against the truth: ``adasim ope``.

    IPS, SNIPS, DM, DR, SNDR, Switch-DR and DR-OS with bootstrap intervals, per user state
    and item group, beside the simulator's exact truth and the online A/B values. Writes
    ``run_dir/ope/`` and rebuilds the run's report and ``summary.json`` with the results.

    Args:
        run_dir: A finished run folder whose treatment is a ``two_stage`` agent.
        n_bootstrap_samples: Bootstrap resamples per (reward, level, cohort).
        rng: Seed of the cross-fitting folds and the bootstrap (``--seed``).
        progress: Show progress bars (replayed days, estimator blocks) on stderr.

    Returns:
        The :class:`~adasim.jobs.ope_run.OPERun`; ``to_pandas()`` is the comparison with
        the truth, one row per estimate.

    Example:
        >>> import adasim
        >>> estimates = adasim.ope("runs/quick-3", n_bootstrap_samples=50)  # doctest: +SKIP
        >>> estimates.to_pandas()  # doctest: +SKIP
    """
    root = _path(run_dir, "run_dir")
    n_bootstrap_samples = _integer(n_bootstrap_samples, "n_bootstrap_samples", 1)
    seed = None if rng is None else _integer(rng, "rng", 0)
    progress = _flag(progress, "progress")
    if not (root / "config.toml").is_file():
        _fail("run_dir", run_dir, "must be a finished run folder of adasim.run: no config.toml")

    from adasim.jobs.ope_run import evaluate_run
    from adasim.jobs.run_analysis import analyse_run
    from simulator.config import load_config as load

    result = evaluate_run(
        root, n_bootstrap_samples=n_bootstrap_samples, rng=seed, progress=progress
    )
    analyse_run(load(root / "config.toml"), root)
    return result


def offline(
    data: str,
    models: Sequence[str] | None = None,
    frameworks: Sequence[str] = ("none",),
    seeds: int = 3,
    *,
    out: PathLike | None = None,
    max_epochs: int = 10,
    patience: int = 2,
    lr: float = 1e-3,
    batch_size: int = 256,
    embed_dim: int = 16,
    history_len: int = 0,
    split: Literal["time", "random"] | None = None,
    arms: Sequence[str] | None = None,
    max_events: int | None = None,
    log: Literal["history", "experiment"] | None = None,
    baselines: bool = True,
    progress: bool = False,
) -> OfflineResult:
    """Train base models on a logged data set and compare them: ``adasim offline``.

    Test AUC, UAUC, log loss and calibration, overall and for new/old users and head/tail
    items, as mean and standard deviation over seeds ``0 .. seeds-1``, with RelaImpr;
    popularity and logistic baselines unless ``baselines=False``.

    Args:
        data: ``"sim:RUN_DIR"`` (a simulated run: its history log when it has one, see
            ``log``) or ``"movielens:PATH"`` (ML-1M ``.dat`` files or ML-100k).
        models: Registered model names (default: the command's, ``fm``, ``youtube_dnn``,
            ``afn``, ``dcnv2``, ``eulernet``).
        frameworks: Training frameworks; ``"none"`` is the bare model.
        seeds: Number of seeds.
        out: If given, write ``offline.md`` and ``offline.json`` there.
        max_epochs: Upper bound on epochs (early stopping on validation AUC).
        patience: Epochs without a validation gain before stopping.
        lr: Adam learning rate.
        batch_size: Mini-batch size.
        embed_dim: Embedding size.
        history_len: Recent items per sample.
        split: Sim data only: ``"time"`` (default) or ``"random"`` 6:2:2.
        arms: Sim data only: keep these arms' events.
        max_events: Sim data only: the first ``max_events`` events.
        log: Sim data only: ``"history"`` (the default when the run has one) or
            ``"experiment"``.
        baselines: Add the popularity and logistic rows.
        progress: Show a progress bar.

    Returns:
        The :class:`~adasim.jobs.offline_run.OfflineResult`; ``to_pandas()`` has one row
        per (model, framework).

    Example:
        >>> import adasim
        >>> table = adasim.offline("sim:runs/quick-3", ["fm", "dcnv2"], seeds=2)  # doctest: +SKIP
        >>> table.to_pandas()  # doctest: +SKIP
    """
    from adasim.jobs.offline_data import load_data, parse_data_spec

    if not isinstance(data, str):
        _fail("data", data, "must be a str: sim:RUN_DIR or movielens:PATH")
    _choice(split, "split", (None, "time", "random"))
    _choice(log, "log", (None, "history", "experiment"))
    if max_events is not None:
        max_events = _integer(max_events, "max_events", 1)
    kept = None if arms is None else _strings(arms, "arms", "['control']", empty=False)
    baselines, progress = _flag(baselines, "baselines"), _flag(progress, "progress")
    out_dir = None if out is None else _path(out, "out")
    # The whole plan first, in the command's order: nothing is read or trained until
    # every argument is valid.
    spec = parse_data_spec(data, split=split, arms=kept, max_events=max_events, log=log)
    seeds = _integer(seeds, "seeds", 1)
    history_len = _integer(history_len, "history_len", 0)
    if models is None:
        from adasim.commands.offline import DEFAULT_MODELS

        models = DEFAULT_MODELS.split(",")
    names = _strings(models, "models", "['fm', 'dcnv2']")
    modes = _strings(frameworks, "frameworks", "['none', 'adaf2m2']")

    from adasim.jobs.offline_run import check_names, run_offline
    from agents.models.base import ModelConfig
    from agents.training import TrainConfig

    check_names(names, modes)
    model_config = ModelConfig(embed_dim=embed_dim)
    train_config = TrainConfig(
        lr=lr, batch_size=batch_size, max_epochs=max_epochs, patience=patience
    )
    data_set = load_data(
        spec, split=split, arms=kept, history_len=history_len, max_events=max_events
    )
    return run_offline(
        data_set,
        models=names,
        frameworks=modes,
        seeds=seeds,
        model_config=model_config,
        train_config=train_config,
        baselines=baselines,
        out_dir=out_dir,
        progress=progress,
    )


def sweep(
    config: Config | PathLike,
    out: PathLike | None = None,
    *,
    grid: Sequence[str] = (),
    replicates: int = 1,
    backend: BackendName = "serial",
    workers: int = 0,
    address: str | None = None,
    retry_failed: bool = False,
    prune: bool = False,
    execute: bool = True,
    write_report: bool = True,
    progress: bool = False,
) -> SweepResult:
    """Run many experiments, seeded replicates times a grid of values: ``adasim sweep``.

    Each replicate has its own seed spawned from the config's seed, the same in every grid
    cell. Writes one row per run and (metric, segment) as ``table.parquet``, ``.json``
    and ``.md``, and the sweep's report. A failed run is in the table with its error (and
    counted in ``n_failed``); called again, the sweep runs only the runs without a result.

    Args:
        config: The base config (with ``[arms]``) or its TOML path.
        out: The sweep folder (default ``runs/sweep_<config name>``).
        grid: ``"key=v1,v2,..."`` axes (``--grid``), e.g.
            ``["world.behavior.noise_skip_rate=0.0,0.1"]``.
        replicates: Replicates per grid cell.
        backend: ``"serial"`` (in this process), ``"process"`` (``workers`` local
            processes) or ``"ray"`` (a cluster at ``address``, or a local one).
        workers: Processes or local Ray CPUs (0: the cores available).
        address: Ray cluster address (``ray`` only).
        retry_failed: Rerun failed runs too.
        prune: Delete each run's logs and checkpoints when done.
        execute: ``False`` runs nothing: the table of the runs finished so far
            (``--report-only``).
        write_report: Write the report (``report.md``, ``report.json``, figures);
            ``False`` is ``--no-report``.
        progress: Show a progress bar over runs.

    Returns:
        The :class:`~adasim.jobs.sweep_backends.SweepResult`, with its ``report`` when
        written; ``to_pandas()`` is the table.

    Example:
        >>> import adasim
        >>> grid = ["world.behavior.noise_skip_rate=0.0,0.2"]
        >>> done = adasim.sweep("configs/quick.toml", "runs/noise", grid=grid)  # doctest: +SKIP
        >>> done.to_pandas().groupby("world.behavior.noise_skip_rate")  # doctest: +SKIP
    """
    from adasim.jobs.sweep_backends import BACKENDS

    axes = _strings(grid, "grid", "['world.n_users=300,600']")
    replicates = _integer(replicates, "replicates", 1)
    _choice(backend, "backend", BACKENDS)
    workers = _integer(workers, "workers", 0)
    if address is not None and not isinstance(address, str):
        _fail("address", address, "must be a str (a Ray cluster address) or None")
    retry_failed, prune = _flag(retry_failed, "retry_failed"), _flag(prune, "prune")
    execute, write_report = _flag(execute, "execute"), _flag(write_report, "write_report")
    progress = _flag(progress, "progress")
    root = None if out is None else _path(out, "out")
    cfg = _as_config(config)

    from dataclasses import replace

    from adasim.jobs.sweep_backends import run_sweep, sweep_report

    result = run_sweep(
        cfg,
        axes,
        replicates,
        Path("runs") / f"sweep_{cfg.name}" if root is None else root,
        backend=backend,
        workers=workers,
        address=address,
        retry_failed=retry_failed,
        prune=prune,
        progress=progress,
        execute=execute,
    )
    if write_report:
        result = replace(result, report=sweep_report(cfg, axes, result))
    return result


def diagnose(
    config: Config | PathLike,
    out: PathLike,
    *,
    seeds: int = 3,
    curve: Sequence[int] = (),
    max_epochs: int = 10,
    batch_size: int = 4096,
    warm_min_samples: int = 10,
    count_fields: bool = True,
    fresh: bool = False,
    progress: bool = False,
) -> DiagnoseResult:
    """Measure whether the world has the AdaF²M² paper's premise: ``adasim diagnose``.

    Simulates the config's history into ``out/history/``, trains a bare DCN-V2 on
    ``finish`` with and without the ID fields (``seeds`` seeds), and writes
    ``diagnostics.json`` and ``diagnostics.md``: the long tail, warm and cold users, the
    AUC with and without IDs by cohort, the ID gains, the cold-start gap, the Bayes AUC
    and the noisy skips.

    Args:
        config: The config (``world.history_days >= 1``) or its TOML path.
        out: The diagnose folder.
        seeds: Seeds ``0 .. seeds-1`` of the reference model.
        curve: Training windows in days (e.g. ``(7, 14, 28, 56)``): one longer history
            (the longest window plus validation and test days, in ``out/curve/``) trains
            the ID model on each window, all tested on the same last days.
        max_epochs: Upper bound on the reference model's epochs.
        batch_size: Its mini-batch size.
        warm_min_samples: Training samples that make a user warm.
        count_fields: Give the reference models the count fields (``--no-count-fields``:
            ``False``).
        fresh: Replace what a diagnose of another config left in ``out``.
        progress: Show progress bars on stderr.

    Returns:
        The :class:`~adasim.jobs.diagnose.DiagnoseResult`; ``to_pandas()`` is the headline
        metrics (``metric``, ``value``, ``sd``), ``curve_to_pandas()`` the curve.

    Example:
        >>> import adasim
        >>> found = adasim.diagnose("configs/quick.toml", "runs/diag", seeds=1)  # doctest: +SKIP
        >>> found.to_pandas()  # doctest: +SKIP
    """
    from simulator.errors import ConfigError

    out_dir = _path(out, "out")
    seeds = _integer(seeds, "seeds", 1)
    max_epochs = _integer(max_epochs, "max_epochs", 1)
    batch_size = _integer(batch_size, "batch_size", 1)
    warm_min_samples = _integer(warm_min_samples, "warm_min_samples", 1)
    fresh, progress = _flag(fresh, "fresh"), _flag(progress, "progress")
    rule = "must be a list or tuple of distinct whole day counts >= 1, e.g. (7, 14, 28, 56)"
    if isinstance(curve, str) or not isinstance(curve, Sequence):
        _fail("curve", curve, rule)
    if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in curve):
        _fail("curve", curve, rule)
    days = tuple(int(d) for d in curve)
    if len(set(days)) != len(days):
        _fail("curve", curve, rule)
    count_fields = _flag(count_fields, "count_fields")
    cfg = _as_config(config)

    from adasim.jobs.diagnose import (
        DiagnoseConfig,
        curve_log_error,
        plan_diagnose,
        run_diagnose,
    )

    def curve_config(log_days: int) -> Config:
        """The curve's one log (``plan_diagnose`` checks it before any folder is made)."""
        try:
            return cfg.with_overrides([f"world.history_days={log_days}"], source="curve")
        except ConfigError as err:
            raise curve_log_error(f"curve == {days}", log_days, err, "curve") from None

    options = DiagnoseConfig(
        seeds=seeds,
        curve=days,
        max_epochs=max_epochs,
        batch_size=batch_size,
        warm_min_samples=warm_min_samples,
        count_fields=count_fields,
    )
    plan = plan_diagnose(cfg, out_dir, options, curve_config, fresh=fresh)
    return run_diagnose(plan, options, progress=progress)


__all__ = ["diagnose", "load_config", "offline", "ope", "report", "run", "sweep"]
