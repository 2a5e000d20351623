"""Builds each arm's recommender from its config: the one place that imports agents.

Built-in policies (random, popular, oracle) come from :mod:`simulator.policies`; the
learning two-stage agent from :mod:`agents` (torch), imported only when an arm needs it.
"""

from __future__ import annotations

import numpy as np

from simulator.experiment_config import ArmConfig
from simulator.policies import OraclePolicy, PopularPolicy, RandomPolicy
from simulator.threads import one_torch_thread as engine_one_torch_thread
from simulator.types import Recommender
from simulator.world import World


def build_agent(
    name: str, arm: ArmConfig, world: World, seed: np.random.SeedSequence
) -> Recommender:
    """The recommender of arm ``name`` (an :data:`~simulator.experiment.AgentFactory`).

    Learning agents see only ``world.observable``; the oracle is the one policy that is
    given the ground truth, by design.
    """
    if arm.agent == "random":
        return RandomPolicy()
    if arm.agent == "popular":
        return PopularPolicy()
    if arm.agent == "oracle":
        return OraclePolicy(world)
    from agents.two_stage import TwoStage

    return TwoStage(world.observable, arm, seed)


def one_torch_thread() -> None:
    """Run torch on one thread, here and in child processes started from now on.

    Results then do not depend on how many processes share the machine (a matrix product
    split over threads may round differently), and parallel runs do not oversubscribe the
    cores.
    """
    from adaf2m2.kernels import pin_cpu_kernels

    pin_cpu_kernels()  # before torch's first computation here (children inherit it)
    import torch  # noqa: F401  (imported, so the engine's half sets its threads at once)

    engine_one_torch_thread()


__all__ = ["build_agent", "one_torch_thread"]
