"""The simulated world and the experiment engine.

A synthetic long-tail world of users and songs (power-law popularity and activity, noisy
skips, daily arrivals) that answers recommendations with streaming feedback, on one simpy
clock with per-user work batched in numpy. Agents are reached only through the
:class:`~simulator.types.Recommender` protocol; no torch is imported here.
"""

from __future__ import annotations

from simulator.errors import AdasimError, ConfigError, SimulationError
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

__all__ = [
    "EVENT_COLUMNS",
    "USER_COLUMNS",
    "AdasimError",
    "ConfigError",
    "FeedbackBatch",
    "FieldSpec",
    "ObservableWorld",
    "Recommendation",
    "Recommender",
    "RequestBatch",
    "SimulationError",
]
