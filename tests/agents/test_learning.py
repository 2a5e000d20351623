"""What must hold (issue 3, item 1): on a simulated log every model learns.

Each base model must beat the popularity baseline and a logistic regression on the same
fields in test AUC, trained with the defaults (embedding 16, Adam 1e-3, batch 256, early
stopping on the validation split) on a random-policy log of a small world
(``configs/quick.toml`` shrunk to 500 users and 300 songs, 10 days; time split 6:2:2).
The fast version checks FM only on a smaller log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adasim.jobs.offline_run import run_offline
from agents.datasets.sim import load_run
from agents.models.registry import PAPER_MODELS
from simulator.config import load_config
from simulator.engine.simulate import simulate_world

ROOT = Path(__file__).resolve().parents[2]


def simulated(tmp: Path, n_users: int, n_items: int, days: int) -> Path:
    config = load_config(
        ROOT / "configs" / "quick.toml",
        [f"world.n_users={n_users}", f"world.n_items={n_items}", f"simulate.days={days}"],
    )
    simulate_world(config, tmp)
    return tmp


def test_fm_beats_popularity_and_logistic_regression(tmp_path: Path) -> None:
    data = load_run(simulated(tmp_path, 300, 200, 6))
    r = run_offline(data, ["fm"], seeds=[0], progress=False)
    fm, pop, lr = r.row("fm"), r.row("popularity"), r.row("logistic")
    assert fm.auc_mean > pop.auc_mean
    assert fm.auc_mean > lr.auc_mean


@pytest.mark.slow
def test_every_model_beats_popularity_and_logistic_regression(tmp_path: Path) -> None:
    data = load_run(simulated(tmp_path, 500, 300, 10))
    r = run_offline(data, list(PAPER_MODELS), seeds=[0], progress=False)
    pop, lr = r.row("popularity"), r.row("logistic")
    for name in PAPER_MODELS:
        row = r.row(name)
        assert row.auc_mean > pop.auc_mean, (name, row.auc_mean, pop.auc_mean)
        assert row.auc_mean > lr.auc_mean, (name, row.auc_mean, lr.auc_mean)
