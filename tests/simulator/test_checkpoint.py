"""Checkpoint files: a digest written with each, so damage is found before unpickling."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import pytest

from simulator.config import load_config
from simulator.engine.checkpoint import (
    _MOVED_MODULES,
    CheckpointUnreadable,
    checkpoint_intact,
    load_snapshot,
    save_snapshot,
)
from simulator.engine.experiment import build_world
from simulator.world.world import World

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


def _defined_in(module_name: str) -> object:
    """A class or function that ``module_name`` defines (what a pickle names by module)."""
    module = importlib.import_module(module_name)
    return next(
        value
        for value in vars(module).values()
        if callable(value) and getattr(value, "__module__", None) == module_name
    )


def test_a_file_from_before_the_subpackages_still_loads(world: World, tmp_path: Path) -> None:
    # simulator/'s modules moved into world/ and engine/ (issue 17): a pickle written before
    # names each class by its old module; the text protocol lets the test write such names.
    new_paths = sorted(_MOVED_MODULES.values())
    objects = {name: _defined_in(name) for name in new_paths}
    data = pickle.dumps(objects, protocol=0)
    for old, new in _MOVED_MODULES.items():
        data = data.replace(f"c{new}\n".encode(), f"c{old}\n".encode())
    assert all(f"c{new}\n".encode() not in data for new in new_paths)  # every name is old
    path = tmp_path / "s.pkl"
    path.write_bytes(data)
    assert load_snapshot(path, world) == objects


# Modules written in the subpackages after the move: no checkpoint names them by a flat path.
BORN_IN_THE_SUBPACKAGES = {"simulator.engine.training_weights", "simulator.engine.arm_processes"}


def test_the_moved_modules_table_covers_both_subpackages() -> None:
    on_disk = {
        f"simulator.{path.parent.name}.{path.stem}"
        for package in ("world", "engine")
        for path in (ROOT / "simulator" / package).glob("*.py")
        if path.stem != "__init__"
    }
    assert on_disk >= BORN_IN_THE_SUBPACKAGES
    assert set(_MOVED_MODULES.values()) == on_disk - BORN_IN_THE_SUBPACKAGES
    assert all(old.count(".") == 1 for old in _MOVED_MODULES)  # the flat layout's names
