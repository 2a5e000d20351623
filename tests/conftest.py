"""Test-wide settings and shared fixtures.

torch runs on one thread, so tests behave the same on every machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch-free packages (simulator, analysis) are tested without it
    pass

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-day random-policy run of a small world (configs/quick.toml, shrunk)."""
    from simulator.config import load_config
    from simulator.engine.simulate import simulate_world

    config = load_config(
        ROOT / "configs" / "quick.toml",
        ["world.n_users=400", "world.n_items=300", "simulate.days=2"],
    )
    out = tmp_path_factory.mktemp("tiny_run")
    simulate_world(config, out)
    return out
