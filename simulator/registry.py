"""Builds each arm's recommender from its config: the one place that imports agents.

Built-in policies (random, popular, oracle) come from :mod:`simulator.policies`; the
learning two-stage agent from :mod:`agents` (torch), imported only when an arm needs it.
"""

from __future__ import annotations

import numpy as np

from simulator.experiment_config import ArmConfig
from simulator.policies import OraclePolicy, PopularPolicy, RandomPolicy
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


__all__ = ["build_agent"]
