"""Checkpoint files: a digest written with each, so damage is found before unpickling."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.checkpoint import (
    CheckpointUnreadable,
    checkpoint_intact,
    load_snapshot,
    save_snapshot,
)
from simulator.config import load_config
from simulator.experiment import build_world
from simulator.world import World

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(load_config(ROOT / "configs" / "quick.toml"))


def test_round_trip_keeps_world_references(world: World, tmp_path: Path) -> None:
    path = save_snapshot(tmp_path / "s.pkl", {"view": world.observable, "n": 3}, world)
    assert checkpoint_intact(path)
    loaded = load_snapshot(path, world)
    assert loaded["view"] is world.observable  # written by name, re-attached on load
    assert loaded["n"] == 3


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_damage_is_detected(world: World, tmp_path: Path, damage: str) -> None:
    path = save_snapshot(tmp_path / "s.pkl", {"payload": list(range(10_000))}, world)
    data = bytearray(path.read_bytes())
    if damage == "flip":  # one bit in the middle: the pickle may still load, the digest not
        data[len(data) // 2] ^= 1
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert not checkpoint_intact(path)
    with pytest.raises(CheckpointUnreadable, match=r"s\.pkl"):
        load_snapshot(path, world)


def test_a_file_from_before_the_digest_still_loads(world: World, tmp_path: Path) -> None:
    path = save_snapshot(tmp_path / "s.pkl", {"n": 5}, world)
    path.write_bytes(path.read_bytes()[: -len(b"ADASIM-SHA256:") - 32])  # as older adasim wrote
    assert not checkpoint_intact(path)  # a resume redoes what it cannot verify
    assert load_snapshot(path, world) == {"n": 5}  # a finished run's snapshots stay usable
