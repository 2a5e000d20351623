"""The two-stage agent pre-trained on the history log: counts every row, trains on a window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agents.two_stage import TwoStage
from simulator.config import load_config
from simulator.engine.experiment import build_world
from simulator.engine.history import learn_history, simulate_history
from simulator.experiment_config import ArmConfig

SMALL = """
name = "agent_history"
seed = 2

[world]
n_users = 400
n_items = 200
new_users_per_day = 10.0
new_items_per_day = 5.0
history_days = 4

[engine]
progress = false
"""


def test_counters_count_the_whole_history_and_training_uses_the_latest_rows(
    tmp_path: Path,
) -> None:
    torch.set_num_threads(1)
    (tmp_path / "c.toml").write_text(SMALL, encoding="utf-8")
    config = load_config(tmp_path / "c.toml")
    history = simulate_history(config, tmp_path / "history")
    world = build_world(config)
    window = history.n_rows // 3
    arm = ArmConfig(hidden_dims=(8,), n_candidates=5, history_train_rows=window, history_epochs=2)
    agent = TwoStage(world.observable, arm, np.random.SeedSequence(0))
    before = [p.detach().clone() for p in agent.ranker.parameters()]
    learn_history(agent, history, world, "control", config.engine.bucket_minutes)
    assert agent.counters.user_[:, 0].sum() == history.n_rows
    assert agent.counters.item_[:, 0].sum() == history.n_rows
    assert agent.rank_learner.n_examples_ == 2 * window
    assert agent.retrieval_learner.n_examples_ == 2 * window
    assert agent.rank_learner.n_pending == 0  # nothing left queued for the first update
    assert any(
        not torch.equal(a, b) for a, b in zip(before, agent.ranker.parameters(), strict=False)
    )


def test_no_training_window_leaves_the_models_untouched(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    (tmp_path / "c.toml").write_text(SMALL, encoding="utf-8")
    config = load_config(tmp_path / "c.toml")
    history = simulate_history(config, tmp_path / "history")
    world = build_world(config)
    arm = ArmConfig(hidden_dims=(8,), n_candidates=5, history_train_rows=0)
    agent = TwoStage(world.observable, arm, np.random.SeedSequence(0))
    before = [p.detach().clone() for p in agent.ranker.parameters()]
    learn_history(agent, history, world, "control", config.engine.bucket_minutes)
    assert agent.counters.user_[:, 0].sum() == history.n_rows
    assert all(torch.equal(a, b) for a, b in zip(before, agent.ranker.parameters(), strict=True))
