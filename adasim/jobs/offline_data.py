"""The data set of an offline comparison, named as ``sim:RUN_DIR`` or ``movielens:PATH``.

``adasim offline --data SPEC`` and :func:`adasim.offline` read the same strings with the
same rules: :func:`parse_data_spec` checks the spec and the loader options that go with it
(before anything is read or trained), :func:`load_data` reads the data set. Messages name
the options as the caller spells them (``--max-events`` on the command line,
``max_events`` in Python), through ``option``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from simulator.errors import ConfigError

if TYPE_CHECKING:
    from agents.datasets.samples import OfflineData

DataKind = Literal["sim", "movielens"]
Split = Literal["time", "random"]
LogName = Literal["history", "experiment"]

SIM_ONLY_OPTIONS: tuple[str, ...] = ("split", "arms", "max_events", "log")
"""Loader options that apply to a simulated run's log only."""


def python_name(name: str) -> str:
    """An option as a Python keyword names it: itself."""
    return name


def cli_flag(name: str) -> str:
    """An option as the command line names it: ``max_events`` -> ``--max-events``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class DataSpec:
    """Which data set to read.

    Attributes:
        kind: ``"sim"`` (a simulated run's log) or ``"movielens"`` (ML-1M ``.dat`` files or
            ML-100k).
        path: The folder read, as given; for ``sim`` the log folder
            (:func:`sim_log_folder`): the run's history or the run itself.
    """

    kind: DataKind
    path: str


def sim_log_folder(
    run_dir: Path, log: LogName | None, option: Callable[[str], str] = python_name
) -> Path:
    """The folder of the log to read: the run's history by default, when it has one.

    A run with a history (``world.history_days > 0``) keeps it in ``RUN_DIR/history``, a
    folder of the same layout as the run itself: the logged past that the agents were
    pre-trained on, served by the logging policy with exact propensities.

    Raises:
        ConfigError: ``log == "history"`` but the run has no finished history log.
    """
    history = run_dir / "history"
    has_history = (history / "done.json").is_file()
    if log == "history" and not has_history:
        raise ConfigError(
            f"{option('log')} == 'history', but {run_dir} has no finished history log "
            f"({history}/done.json is missing): the run had world.history_days = 0 or was cut"
        )
    if log == "history" or (log is None and has_history):
        return history
    return run_dir


def parse_data_spec(
    data: str,
    *,
    split: Split | None = None,
    arms: object = None,
    max_events: int | None = None,
    log: LogName | None = None,
    option: Callable[[str], str] = python_name,
) -> DataSpec:
    """Check ``data`` and the sim-only options given with it; nothing is read yet.

    Args:
        data: ``sim:RUN_DIR`` or ``movielens:PATH``.
        split: ``time``, ``random`` or ``None`` (sim only).
        arms: Arms to keep, in any form, or ``None`` (sim only; only its presence counts).
        max_events: First events to read, or ``None`` (sim only).
        log: ``history``, ``experiment`` or ``None`` (sim only).
        option: How messages name an option (:func:`python_name`, :func:`cli_flag`).

    Raises:
        ConfigError: a spec of another form, a sim-only option with MovieLens data, or
            ``log == "history"`` for a run without a history log.
    """
    kind, _, path = str(data).partition(":")
    if kind not in ("sim", "movielens") or not path:
        raise ConfigError(f"{option('data')} == {data!r}, must be sim:RUN_DIR or movielens:PATH")
    if kind == "movielens":
        given = (split, arms, max_events, log)
        if any(v is not None for v in given):
            names = [option(n) for n in SIM_ONLY_OPTIONS]
            raise ConfigError(f"{', '.join(names[:-1])} and {names[-1]} apply to sim: data only")
        return DataSpec("movielens", path)
    return DataSpec("sim", str(sim_log_folder(Path(path), log, option)))


def load_data(
    spec: DataSpec,
    *,
    split: Split | None = None,
    arms: Sequence[str] | None = None,
    history_len: int = 0,
    max_events: int | None = None,
) -> OfflineData:
    """Read the data set of ``spec`` (imports the torch-side loaders of ``agents``).

    Args:
        spec: From :func:`parse_data_spec`.
        split: Sim only: ``time`` (the default) or ``random``.
        arms: Sim only: keep these arms' events (``None``: all).
        history_len: Recent items per sample.
        max_events: Sim only: the first ``max_events`` events (``None``: all).
    """
    from agents.datasets import MovieLensConfig, SimDataConfig, load_movielens, load_run

    if spec.kind == "movielens":
        return load_movielens(spec.path, MovieLensConfig(history_len=history_len))
    sim_config = SimDataConfig(
        split=split or "time",
        arms=None if arms is None else tuple(arms),
        history_len=history_len,
        max_events=max_events,
    )
    return load_run(spec.path, sim_config)


__all__ = [
    "SIM_ONLY_OPTIONS",
    "DataKind",
    "DataSpec",
    "LogName",
    "Split",
    "cli_flag",
    "load_data",
    "parse_data_spec",
    "python_name",
    "sim_log_folder",
]
