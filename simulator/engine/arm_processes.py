"""Each arm's pre-training in a process of its own: the history pass and the warm start.

Before the experiment every arm's agent trains twice on its own: on the history log
(:func:`~simulator.engine.history.learn_history`) and, after the pre-period, on that
period's feedback (``warm_start``). Neither reads another agent, so the arms can train side
by side; one after another they keep one core idle for about four minutes of the default
run. An agent crosses between processes as a snapshot
(:func:`~simulator.engine.checkpoint.save_snapshot`: every tensor, buffer and generator
state, with the world written by name and re-attached on loading), and each worker runs
torch on one thread as the parent does, so the agents that come back are the ones the
parent would have trained itself, bit for bit (``tests/simulator/test_arm_processes.py``).

The pre-period's days in between stay in one process: there the control agent serves and
every agent learns from the same stream, batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from simulator.config import Config
from simulator.engine.checkpoint import load_snapshot, save_snapshot
from simulator.engine.history import HistoryLog, learn_history
from simulator.engine.process_pool import map_in_processes, picklable
from simulator.engine.threads import one_torch_thread
from simulator.experiment_config import ArmConfig
from simulator.types import Recommender
from simulator.world.world import World

AgentFactory = Callable[[str, ArmConfig, World, np.random.SeedSequence], Recommender]
"""``factory(arm_name, arm_config, world, seed) -> Recommender`` (the composition root's)."""

WorldBuilder = Callable[[Config], World]
"""``build(config) -> World``: the experiment's world (a module-level function, so that a
worker can rebuild it: worlds are pure functions of the config)."""


def _in_processes(workers: int, names: Sequence[str], *shipped: object) -> bool:
    return workers >= 2 and len(names) >= 2 and all(picklable(obj) for obj in shipped)


def pre_trained_agents(
    config: Config,
    factory: AgentFactory,
    seeds: dict[str, np.random.SeedSequence],
    world: World,
    history: HistoryLog | None,
    build: WorldBuilder,
    staging: Path,
    workers: int,
) -> dict[str, Recommender]:
    """Every arm's agent, built from its seed and pre-trained on ``history`` (if any).

    With ``workers >= 2`` (and a picklable ``factory`` and ``build``) each arm trains in a
    worker process; the snapshots it writes go to ``staging`` and are removed once read.
    """
    names = list(config.arms)
    if history is None or not _in_processes(workers, names, factory, build):
        agents = {name: factory(name, config.arms[name], world, seeds[name]) for name in names}
        if history is not None:
            for name, agent in agents.items():
                learn_history(agent, history, world, name, config.engine.bucket_minutes)
        return agents
    staging.mkdir(parents=True, exist_ok=True)
    paths = [staging / f"{name}.pkl" for name in names]
    jobs = [
        (config, build, factory, name, seeds[name], history, path)
        for name, path in zip(names, paths, strict=True)
    ]
    map_in_processes(_pre_train_job, jobs, min(workers, len(jobs)))
    return _collected(names, paths, world)


def warm_started(
    config: Config,
    agents: dict[str, Recommender],
    world: World,
    build: WorldBuilder,
    staging: Path,
    workers: int,
) -> dict[str, Recommender]:
    """``agents`` after their ``warm_start(arm.warm_start_epochs)`` (agents without one as
    they are); in worker processes with ``workers >= 2``, otherwise in place."""
    names = [name for name, agent in agents.items() if callable(getattr(agent, "warm_start", None))]
    if not _in_processes(workers, names, build):
        for name in names:
            agents[name].warm_start(config.arms[name].warm_start_epochs)  # type: ignore[attr-defined]
        return agents
    staging.mkdir(parents=True, exist_ok=True)
    paths = [staging / f"{name}.pkl" for name in names]
    for name, path in zip(names, paths, strict=True):
        save_snapshot(path, agents[name], world)
    jobs = [(config, build, name, path) for name, path in zip(names, paths, strict=True)]
    map_in_processes(_warm_start_job, jobs, min(workers, len(jobs)))
    return {**agents, **_collected(names, paths, world)}


def _collected(names: list[str], paths: list[Path], world: World) -> dict[str, Recommender]:
    agents = {}
    for name, path in zip(names, paths, strict=True):
        agents[name] = load_snapshot(path, world)
        path.unlink()
    return agents


def _pre_train_job(
    args: tuple[Config, WorldBuilder, AgentFactory, str, np.random.SeedSequence, HistoryLog, Path],
) -> None:
    config, build, factory, name, seed, history, path = args
    one_torch_thread()
    world = build(config)
    agent = factory(name, config.arms[name], world, seed)
    learn_history(agent, history, world, name, config.engine.bucket_minutes)
    save_snapshot(path, agent, world)


def _warm_start_job(args: tuple[Config, WorldBuilder, str, Path]) -> None:
    config, build, name, path = args
    one_torch_thread()
    world = build(config)
    agent = load_snapshot(path, world)
    agent.warm_start(config.arms[name].warm_start_epochs)
    save_snapshot(path, agent, world)


__all__ = ["AgentFactory", "WorldBuilder", "pre_trained_agents", "warm_started"]
