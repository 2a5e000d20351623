"""Recommender agents: base models, two-stage serving and streaming learners (torch).

Agents implement :class:`simulator.types.Recommender`; their ranking models may be wrapped
by a training framework from :mod:`adaf2m2`. Offline data sets and training live in
:mod:`agents.datasets` and :mod:`agents.training`; the models in :mod:`agents.models`.
"""

from __future__ import annotations

from agents.counters import InteractionCounters
from agents.exploration import ExplorationConfig, choice_probabilities, sample_choices
from agents.features import TASKS, FeatureSpec, count_buckets, counts_before, history_before
from agents.online import OnlineLearner
from agents.training import FitResult, ScoreFn, TrainConfig, fit, negative_log_loss, predict
from agents.two_stage import TwoStage

__all__ = [
    "TASKS",
    "ExplorationConfig",
    "FeatureSpec",
    "FitResult",
    "InteractionCounters",
    "OnlineLearner",
    "ScoreFn",
    "TrainConfig",
    "TwoStage",
    "choice_probabilities",
    "count_buckets",
    "counts_before",
    "fit",
    "history_before",
    "negative_log_loss",
    "predict",
    "sample_choices",
]
