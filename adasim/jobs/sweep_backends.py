"""Where a sweep's runs execute: in this process, in local processes, or on a Ray cluster.

Every backend calls the same :func:`adasim.jobs.sweep.execute_run` on the same jobs; a run
writes its own result file, and the table is read back from the files in plan order, so
the backend changes the wall time and nothing else. Each run uses one torch thread
(parallelism is across runs).

* ``serial``: one run after another in this process.
* ``process``: ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method
  (no fork of a process that holds torch threads) and ``workers`` processes.
* ``ray``: ``ray.init(address=...)`` joins a running cluster; with no address, a local
  one with ``num_cpus=workers`` is started (and shut down at the end). Ray is an optional
  extra, imported only here. On a remote cluster every node needs adasim installed (the
  task ships the config and the run, not the code) and a shared file system for the
  sweep directory, since each run writes its own result file there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from tqdm import tqdm

from adasim.jobs.sweep import (
    RunJob,
    RunSpec,
    SweepError,
    SweepSpec,
    atomic_write,
    collect_table,
    execute_run,
    failure_result,
    pending_runs,
    prepare_dir,
    result_path,
    write_table,
)
from simulator.config import Config
from simulator.engine.process_pool import die_with_parent, terminating
from simulator.experiment_config import available_cores

if TYPE_CHECKING:
    from analysis.sweep_report import SweepReport

BackendName = Literal["serial", "process", "ray"]
BACKENDS: tuple[str, ...] = ("serial", "process", "ray")

Done = Callable[[RunSpec, dict[str, Any]], None]


def _record_crash(job: RunJob, err: BaseException) -> dict[str, Any]:
    """A run whose worker died (not an exception inside the run): status ``"crashed"``.

    A crashed run is in the table like a failed one, but a resumed sweep reruns it: the
    cause (a killed or broken pool, a lost Ray node) is outside the run.
    """
    import json

    record = {**failure_result(job.run, err), "status": "crashed"}
    atomic_write(result_path(job.sweep_dir, job.run.run_id), json.dumps(record, sort_keys=True))
    return record


def run_serial(jobs: Sequence[RunJob], done: Done) -> None:
    """Run the jobs one after another in this process."""
    for job in jobs:
        done(job.run, execute_run(job))


def _init_worker() -> None:
    from adasim.registry import one_torch_thread

    die_with_parent()  # a SIGKILLed sweep leaves no experiment running behind it
    one_torch_thread()


def run_process(jobs: Sequence[RunJob], done: Done, workers: int) -> None:
    """Run the jobs on ``workers`` spawned local processes."""
    # terminating(): a SIGTERM or Ctrl-C stops the running experiments too, so a resumed
    # sweep never races an orphan writing the same run directory.
    with terminating(
        ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker)
    ) as pool:
        futures: dict[Future[dict[str, Any]], RunJob] = {
            pool.submit(execute_run, job): job for job in jobs
        }
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = futures[fut]
                try:
                    record = fut.result()
                except Exception as err:  # e.g. BrokenProcessPool
                    record = _record_crash(job, err)
                done(job.run, record)


def _import_ray() -> Any:
    """The ``ray`` module, or a SweepError naming the optional extra to install."""
    try:
        import ray
    except ImportError:
        raise SweepError(
            "--backend 'ray' needs the optional extra ray, which is not installed: "
            "pip install 'adasim[ray]' (or pip install 'ray[default]')"
        ) from None
    return ray


def run_ray(jobs: Sequence[RunJob], done: Done, workers: int, address: str | None) -> None:
    """Run the jobs as Ray tasks (one CPU each) on a cluster or a local Ray instance."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(execute_run)
        refs = {remote.remote(job): job for job in jobs}
        remaining = list(refs)
        while remaining:
            ready, remaining = ray.wait(remaining, num_returns=1)
            job = refs[ready[0]]
            try:
                record = ray.get(ready[0])
            except Exception as err:  # worker died, task error
                record = _record_crash(job, err)
            done(job.run, record)
    finally:
        if started:
            ray.shutdown()


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
        sweep_dir: The sweep directory.
        table: One row per run x (metric, segment), in plan order (no wall times).
        executed: Run ids executed by this call (the rest had result files already).
        n_failed: Runs with status ``"failed"`` or ``"crashed"`` in the table.
        paths: Written files: ``parquet``, ``json``, ``markdown``.
        wall_seconds: Wall time of this call (not in the table).
        aa: Control and treatment are identical (shares aside) in every grid cell: an
            A/A sweep, where every rejection is a false positive. A grid over an arm's
            parameters makes the arms differ, and the sweep is no A/A test.
        report: The sweep's report (:func:`sweep_report`) when one was written with the
            result (``adasim.sweep``), else ``None``.
    """

    sweep_dir: Path
    table: pd.DataFrame
    executed: tuple[str, ...]
    n_failed: int
    paths: dict[str, Path]
    wall_seconds: float
    aa: bool = False
    report: SweepReport | None = None

    def to_pandas(self) -> pd.DataFrame:
        """The table: one row per run x (metric, segment), as ``table.parquet`` holds it."""
        return self.table.copy()


def run_sweep(
    config: Config,
    grid: Sequence[str],
    replicates: int,
    sweep_dir: str | Path,
    backend: BackendName = "serial",
    workers: int = 0,
    address: str | None = None,
    retry_failed: bool = False,
    prune: bool = False,
    progress: bool = True,
    execute: bool = True,
) -> SweepResult:
    """Run (or resume) a sweep and write its table.

    Args:
        config: The base config (needs ``[arms]``); ``config.seed`` is the root seed.
        grid: ``"key=v1,v2"`` axes (none: replicates of the base config only).
        replicates: Replicates per grid cell, each with its own spawned seed.
        sweep_dir: The sweep directory (``runs/``, ``results/``, the table files).
        backend: ``serial``, ``process`` or ``ray``.
        workers: Processes (``process``) or local Ray CPUs (``ray`` without an address);
            ``0`` (the default) is the cores available to this process (results do not
            depend on it).
        address: Ray cluster address (``ray`` only); ``None`` starts a local instance.
        retry_failed: Also rerun runs whose result file says ``failed``.
        prune: Delete each finished run's event logs and checkpoints (keep its report
            and summary) to bound the disk use of large sweeps.
        progress: Show a progress bar over runs.
        execute: ``False`` runs nothing and only collects the table of what has
            finished (unfinished runs appear with status ``"missing"``).

    Raises:
        SweepError: bad grid (a key, a value, or a cell's combination), replicates,
            backend or workers; ``sweep_dir`` holds another sweep; ray requested but not
            installed. All of these are checked before anything is written or run.
    """
    if backend not in BACKENDS:
        raise SweepError(f"backend == {backend!r}, must be one of {', '.join(BACKENDS)}")
    if workers < 0:
        raise SweepError(f"workers == {workers}, must be >= 1, or 0 for the cores available")
    if address is not None and backend != "ray":
        raise SweepError(f"address == {address!r}, only the ray backend joins a cluster")
    workers = workers or available_cores()
    start = time.perf_counter()
    root = Path(sweep_dir)
    spec = SweepSpec.build(config, grid, replicates)
    if backend == "ray" and execute:
        _import_ray()  # before the sweep directory is made
    prepare_dir(spec, root)
    todo = pending_runs(spec, root, retry_failed) if execute else ()
    jobs = [RunJob(spec.config, run, root, prune) for run in todo]
    bar = tqdm(
        total=len(spec.runs),
        initial=len(spec.runs) - len(todo),
        unit="run",
        desc=config.name,
        disable=not progress,
        file=sys.stderr,
    )
    failed: list[str] = []

    def done(run: RunSpec, record: dict[str, Any]) -> None:
        if record["status"] != "ok":
            failed.append(run.run_id)
            bar.write(f"run {run.run_id} failed: {record['error']}")
        bar.update(1)

    if not jobs:
        pass
    elif backend == "serial":
        run_serial(jobs, done)
    elif backend == "process":
        run_process(jobs, done, workers)
    else:
        run_ray(jobs, done, workers, address)
    bar.close()
    table = collect_table(spec, root)
    paths = write_table(table, root)
    n_failed = int(table.drop_duplicates("run_id")["status"].isin(["failed", "crashed"]).sum())
    return SweepResult(
        sweep_dir=root,
        table=table,
        executed=tuple(j.run.run_id for j in jobs),
        n_failed=n_failed,
        paths=paths,
        wall_seconds=time.perf_counter() - start,
        aa=spec.aa,
    )


def sweep_report(config: Config, grid: Sequence[str], result: SweepResult) -> SweepReport:
    """Write the report of a sweep's table into its directory, as ``adasim sweep`` does.

    Estimated against true lifts, coverage, rejection rates (false-positive rates when the
    sweep is an A/A test: the arms are identical in every grid cell) and lift by each grid
    key's value, at the config's ``experiment.alpha``.

    Args:
        config: The sweep's base config.
        grid: Its ``"key=v1,v2"`` axes, as given to :func:`run_sweep`.
        result: What :func:`run_sweep` returned.
    """
    from analysis.sweep_report import SweepReportConfig, write_sweep_report

    keys = [g.partition("=")[0].strip() for g in grid]
    return write_sweep_report(
        result.table,
        result.sweep_dir,
        SweepReportConfig(
            grid_keys=tuple(keys),
            alpha=config.experiment.alpha,
            aa=result.aa,
            title=f"Sweep {config.name}",
        ),
    )


__all__ = [
    "BACKENDS",
    "BackendName",
    "SweepResult",
    "run_process",
    "run_ray",
    "run_serial",
    "run_sweep",
    "sweep_report",
]
