"""Serving snapshots: OPE replays the treatment agent of each day from a snapshot a third the
size of a checkpoint, with the same candidates and probabilities as from the full checkpoint;
a finished run keeps no resume state unless asked to."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from adasim.jobs.ope_run import treatment_distribution
from adasim.registry import build_agent
from analysis.tables import load_events
from simulator.config import load_config
from simulator.engine.experiment import RunLayout, build_world, run_experiment
from tests.adasim.tiny_worlds import write_tiny_two_arm_world

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunLayout]:
    tmp = tmp_path_factory.mktemp("snap")
    path = write_tiny_two_arm_world(tmp / "tiny_snap.toml", treatment_framework="adaf2m2")
    config = load_config(path)
    return path, run_experiment(
        config, tmp / "all", build_agent, progress=False, keep_checkpoints="all"
    )


def test_snapshots_replay_exactly_as_the_checkpoints(kept: tuple[Path, RunLayout]) -> None:
    path, layout = kept
    config = load_config(path)
    world = build_world(config)
    log = load_events(layout.root / "events")
    log = log[(log["arm"] == "control") & (log["day"] >= config.experiment.pre_days)]
    log = log.iloc[:: max(len(log) // 400, 1)]
    from_snapshots = treatment_distribution(config, layout, world, log)
    snapshots = sorted((layout.root / "checkpoints" / "serving").glob("day-*.pkl"))
    assert [p.name for p in snapshots] == ["day-0001.pkl", "day-0002.pkl"]
    checkpoint = layout.checkpoints("ab") / "day-0002.pkl"
    assert snapshots[1].stat().st_size < checkpoint.stat().st_size / 2
    shutil.move(layout.root / "checkpoints" / "serving", layout.root / "serving-aside")
    try:
        from_checkpoints = treatment_distribution(config, layout, world, log)
    finally:
        shutil.move(layout.root / "serving-aside", layout.root / "checkpoints" / "serving")
    np.testing.assert_array_equal(from_snapshots.candidates, from_checkpoints.candidates)
    np.testing.assert_array_equal(from_snapshots.probs, from_checkpoints.probs)


def test_a_finished_run_keeps_only_the_snapshots_by_default(
    kept: tuple[Path, RunLayout], tmp_path: Path
) -> None:
    path, full = kept
    layout = run_experiment(load_config(path), tmp_path / "latest", build_agent, progress=False)
    left = sorted(
        p.relative_to(layout.root / "checkpoints").as_posix()
        for p in (layout.root / "checkpoints").rglob("*.pkl*")
    )
    assert left == ["serving/day-0001.pkl", "serving/day-0002.pkl"]
    assert sorted(full.checkpoints("ab").glob("day-*.pkl"))  # `all` kept every day
    assert full.fork().is_file()
