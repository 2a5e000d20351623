"""Builds each arm's recommender from its config: the one place that imports agents.

Built-in policies (random, popular, oracle) come from :mod:`simulator.policies`; the
learning two-stage agent from :mod:`agents` (torch), imported only when an arm needs it; a
custom agent (``agent = "package.module:factory"``) from its factory, called as

.. code-block:: python

    factory(name: str, arm: ArmConfig, world: ObservableWorld, seed: np.random.SeedSequence)
        -> Recommender

with the arm's name and config, the observable side of the world only (never the ground
truth) and the agent's own seed (see ``docs/agents.md``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from simulator.config import Config
from simulator.engine.threads import one_torch_thread as engine_one_torch_thread
from simulator.errors import ConfigError
from simulator.experiment_config import ArmConfig, is_factory_path
from simulator.policies import OraclePolicy, PopularPolicy, RandomPolicy
from simulator.types import Recommender
from simulator.world.world import World


def build_agent(
    name: str, arm: ArmConfig, world: World, seed: np.random.SeedSequence
) -> Recommender:
    """The recommender of arm ``name`` (an :data:`~simulator.engine.experiment.AgentFactory`).

    Learning agents and custom agents see only ``world.observable``; the oracle is the one
    policy that is given the ground truth, by design.

    Raises:
        ConfigError: a custom agent's factory cannot be imported or returns something
            that is not a :class:`~simulator.types.Recommender`.
    """
    if arm.agent == "random":
        return RandomPolicy()
    if arm.agent == "popular":
        return PopularPolicy()
    if arm.agent == "oracle":
        return OraclePolicy(world)
    if is_factory_path(arm.agent):
        agent = resolve_factory(name, arm.agent)(name, arm, world.observable, seed)
        if not isinstance(agent, Recommender):
            _fail(
                name,
                arm.agent,
                f"returned {type(agent).__name__}, must return a Recommender (methods "
                "recommend(requests, rng) and observe(feedback))",
            )
        return agent
    from agents.two_stage import TwoStage

    return TwoStage(world.observable, arm, seed)


def _fail(name: str, agent: str, rule: str) -> None:
    raise ConfigError(f"arms.{name}.agent == {agent!r}, {rule}; see docs/agents.md")


def resolve_factory(name: str, agent: str) -> Callable[..., Any]:
    """Import the factory ``"package.module:attr"`` of arm ``name`` (the call comes later).

    Raises:
        ConfigError: the module cannot be imported, has no such attribute, or the
            attribute is not callable; the message names ``arms.NAME.agent`` and its value.
    """
    module_name, _, attr = agent.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        _fail(
            name,
            agent,
            f"module {module_name!r} cannot be imported ({type(err).__name__}: {err}); it "
            "must be importable (is its folder on the Python path, PYTHONPATH?)",
        )
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            _fail(name, agent, f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        _fail(name, agent, f"{attr!r} is a {type(target).__name__}, must be a callable factory")
    factory: Callable[..., Any] = target
    return factory


def check_agents(config: Config) -> None:
    """Import every custom agent's factory of ``config``, before any work starts.

    Whether a factory returns a :class:`~simulator.types.Recommender` is checked when
    :func:`build_agent` calls it (it needs the world), at the start of the pre-period.
    """
    for name, arm in config.arms.items():
        if is_factory_path(arm.agent):
            resolve_factory(name, arm.agent)


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


__all__ = ["build_agent", "check_agents", "one_torch_thread", "resolve_factory"]
