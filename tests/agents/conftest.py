"""Shared fixtures for the agents tests: a tiny simulated run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.config import load_config
from simulator.simulate import simulate_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-day random-policy run of a small world (configs/quick.toml, shrunk)."""
    config = load_config(
        ROOT / "configs" / "quick.toml",
        ["world.n_users=400", "world.n_items=300", "simulate.days=2"],
    )
    out = tmp_path_factory.mktemp("tiny_run")
    simulate_world(config, out)
    return out
