"""Retrieval recall@N against the oracle's best songs, beside popularity's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from adasim.jobs.retrieval_recall import recall_at_n
from agents.counters import InteractionCounters
from agents.two_stage import TwoStage
from simulator.config import WorldConfig, load_config
from simulator.engine.experiment import build_world
from simulator.engine.history import learn_history, simulate_history
from simulator.world.world import World

ROOT = Path(__file__).resolve().parents[2]


class FixedRetrieval:
    """A stand-in agent whose retrieval returns given lists."""

    def __init__(self, lists: np.ndarray, shown: np.ndarray) -> None:
        self.lists = lists
        self.counters = InteractionCounters()
        self.counters.item_ = np.stack([shown, shown, shown], axis=1).astype(np.float64)

    def retrieve(self, users: np.ndarray, n_items: int) -> np.ndarray:
        return self.lists[users]


def test_recall_is_one_for_the_oracle_list_and_popularity_for_a_fixed_list() -> None:
    world = World.build(WorldConfig(n_users=40, n_items=60), 1, 0)
    users = np.arange(40, dtype=np.int64)
    best = np.argsort(-world.affinity_matrix(users, 60), axis=1, kind="stable")[:, :5]
    shown = np.arange(60, dtype=np.float64)[::-1].copy()  # songs 0..4 are the most shown
    oracle = recall_at_n(world, FixedRetrieval(best, shown), users, 60, 0)
    assert oracle.recall == 1.0
    assert oracle.distinct_retrieved == oracle.distinct_best
    fixed = np.tile(np.arange(5), (40, 1))
    same = recall_at_n(world, FixedRetrieval(fixed, shown), users, 60, 0)
    assert same.recall == same.popularity_recall
    expected = np.mean([len(set(range(5)) & set(row)) / 5 for row in best.tolist()])
    assert same.recall == pytest.approx(expected)
    assert same.distinct_retrieved == 5


def test_learned_retrieval_beats_popularity_on_a_small_world(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    config = load_config(ROOT / "configs" / "quick.toml")
    world = build_world(config)
    history = simulate_history(config, tmp_path / "history", world)
    agent = TwoStage(world.observable, config.arms["control"], 3)
    learn_history(agent, history, world, "control", config.engine.bucket_minutes)
    users = np.random.default_rng(0).choice(world.n_users_at(0), 400, replace=False)
    result = recall_at_n(world, agent, users.astype(np.int64), world.n_items_at(0), 0)
    assert result.recall > result.popularity_recall + 0.05
