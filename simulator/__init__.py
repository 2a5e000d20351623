"""The simulated world and the experiment engine.

A synthetic long-tail world of users and songs (power-law popularity and activity, noisy
skips, daily arrivals) that answers recommendations with streaming feedback, on one simpy
clock with per-user work batched in numpy; and the A/B experiment around it (pre-period,
hashed arms, twin worlds, checkpoints). Agents are reached only through the
:class:`~simulator.types.Recommender` protocol; no torch is imported here (the composition
root, ``adasim.registry``, imports agents when an arm needs one).
"""

from __future__ import annotations

from simulator.config import (
    Config,
    EngineConfig,
    SimulateConfig,
    WorldConfig,
    load_config,
    write_config,
)
from simulator.conformance import ConformanceError, ConformanceReport, check_recommender
from simulator.engine.assignment import FixedArm, HashAssignment
from simulator.engine.engine import Engine
from simulator.engine.eventlog import EventLog
from simulator.engine.experiment import RunLayout, run_experiment, run_variant
from simulator.engine.simulate import simulate_world
from simulator.engine.summary import WorldSummary, summarize_run
from simulator.errors import AdasimError, ConfigError, SimulationError
from simulator.experiment_config import ArmConfig, ExperimentConfig
from simulator.policies import OraclePolicy, PopularPolicy, RandomPolicy, make_policy
from simulator.types import (
    EVENT_COLUMNS,
    USER_COLUMNS,
    FeedbackBatch,
    FieldSpec,
    ObservableWorld,
    Recommendation,
    Recommender,
    RequestBatch,
)
from simulator.world.noise import Noise
from simulator.world.world import World, WorldView

__all__ = [
    "EVENT_COLUMNS",
    "USER_COLUMNS",
    "AdasimError",
    "ArmConfig",
    "Config",
    "ConfigError",
    "ConformanceError",
    "ConformanceReport",
    "Engine",
    "EngineConfig",
    "EventLog",
    "ExperimentConfig",
    "FeedbackBatch",
    "FieldSpec",
    "FixedArm",
    "HashAssignment",
    "Noise",
    "ObservableWorld",
    "OraclePolicy",
    "PopularPolicy",
    "RandomPolicy",
    "Recommendation",
    "Recommender",
    "RequestBatch",
    "RunLayout",
    "SimulateConfig",
    "SimulationError",
    "World",
    "WorldConfig",
    "WorldSummary",
    "WorldView",
    "check_recommender",
    "load_config",
    "make_policy",
    "run_experiment",
    "run_variant",
    "simulate_world",
    "summarize_run",
    "write_config",
]
