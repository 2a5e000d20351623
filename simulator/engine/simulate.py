"""A world-only run: build the world, serve it with one built-in policy, log, summarise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulator.config import Config, write_config
from simulator.engine.engine import Engine
from simulator.engine.eventlog import EventLog
from simulator.engine.history import learn_history, simulate_history
from simulator.engine.run_folder import prepare_run_folder
from simulator.engine.summary import WorldSummary, summarize_run
from simulator.policies import make_policy
from simulator.world.world import World


def simulate_world(config: Config, directory: str | Path) -> WorldSummary:
    """Run ``config.simulate.policy`` on ``config.world`` for ``config.simulate.days`` days.

    Writes ``config.toml`` (resolved, seed included), ``history/`` (the logged past, when
    ``world.history_days > 0``: the policy observes it first, and the users' satisfaction
    carries over), ``events/``, ``users.parquet``, ``items.parquet`` and ``summary.json``
    into ``directory``.

    The root seed ``config.seed`` is split (``SeedSequence.spawn``) into the world's seed
    and the policy's stream, so the same config gives byte-identical files.

    Returns:
        The long-tail summary.
    """
    # A rerun replaces an earlier world-only run in the same folder, never a user's files.
    out = prepare_run_folder(directory, config, fresh=True, kind="simulate")
    write_config(config, out / "config.toml")
    sim = config.simulate
    world_seq, policy_seq = np.random.SeedSequence(config.seed).spawn(2)
    world = World.build(config.world, sim.days, world_seq)
    policy = make_policy(
        sim.policy,
        world,
        popular_power=sim.popular_power,
        popular_prior=sim.popular_prior,
        popular_signal=sim.popular_signal,
        oracle_top_k=sim.oracle_top_k,
    )
    history = None
    if config.world.history_days:
        # The policy starts where a production system would: having seen the logged past.
        history = simulate_history(config, out / "history", world)
        learn_history(policy, history, world, sim.policy, config.engine.bucket_minutes)
    log = EventLog(out, [sim.policy], chunk_rows=config.engine.chunk_rows)
    engine = Engine(world, {sim.policy: policy}, config=config.engine, log=log, rng=policy_seq)
    if history is not None:
        engine.retention.satisfaction[:] = history.satisfaction()
    try:
        engine.run(sim.days)
    finally:
        engine.close(out)
    summary = summarize_run(out, sim.days)
    summary.write_json(out / "summary.json")
    return summary


__all__ = ["simulate_world"]
