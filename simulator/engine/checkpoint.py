"""Checkpoints of a running engine and its agents, taken at day boundaries.

A checkpoint pickles the engine's state (live and pending sessions, satisfaction, session
counter, the arms' random streams, statistics) and every policy object (models, optimisers,
buffers, torch generators) in one file. The world itself is not written: it is rebuilt from
the config and seed, and the pickle refers to it by name (pickle's persistent ids), so a
checkpoint stays small and cannot drift from the world it belongs to.

What is left out and re-attached on load: the simpy environment (generators cannot be
pickled; a new one starts at the checkpoint's minute), the event log (the caller opens the
next day's segment) and the periodic hooks (the caller adds them again).

Files are written to a temporary name and renamed, so a run killed while writing leaves the
previous checkpoint intact; each ends with the sha256 of its content, so a file damaged
some other way (a full disk, a copy cut short)
raises :class:`CheckpointUnreadable`, and :func:`load_newest_intact` then falls back to the
newest checkpoint that still loads. A *serving snapshot* (:func:`save_snapshot`) pickles one
object the same way, e.g. an agent without its learners' state, for off-policy replays.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import simpy

from simulator.engine.engine import Engine
from simulator.errors import SimulationError
from simulator.world.world import World

_DETACHED = ("env", "log", "_hooks", "_progress")


def _world_objects(world: World) -> dict[str, Any]:
    return {
        "world": world,
        "world.observable": world.observable,
        "world.users": world.users,
        "world.items": world.items,
        "world.noise": world.noise,
    }


class _Pickler(pickle.Pickler):
    def __init__(self, file: Any, world: World) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._names = {id(obj): name for name, obj in _world_objects(world).items()}

    def persistent_id(self, obj: Any) -> str | None:
        return self._names.get(id(obj))


_MOVED_MODULES: dict[str, str] = {
    f"simulator.{name}": f"simulator.{package}.{name}"
    for package, names in (
        ("world", "world population behavior noise retention sessions numpy_kernels"),
        (
            "engine",
            "engine eventlog checkpoint experiment history simulate assignment run_folder"
            " process_pool process_worker threads summary",
        ),
    )
    for name in names.split()
}
"""Where each module of the flat ``simulator/`` went when it got its ``world/`` and
``engine/`` subpackages: a checkpoint or snapshot written before names its classes by the
old module, and still loads (a run resumed across the upgrade)."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, world: World) -> None:
        super().__init__(file)
        self._objects = _world_objects(world)

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED_MODULES.get(module, module), name)

    def persistent_load(self, pid: Any) -> Any:
        if pid not in self._objects:
            raise SimulationError(f"checkpoint refers to {pid!r}, which this world does not have")
        return self._objects[pid]


class CheckpointUnreadable(SimulationError):
    """A checkpoint file exists but cannot be loaded (truncated, corrupt, foreign)."""


_TRAILER = b"ADASIM-SHA256:"
"""Ends every file: the tag and the sha256 of the pickle before it (pickle ignores it)."""


class _HashingWriter:
    """A file that also hashes what goes through it, so writing costs no second read."""

    def __init__(self, f: io.BufferedWriter) -> None:
        self.f = f
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.f.write(data)


def _atomic_dump(path: Path, obj: Any, world: World) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        writer = _HashingWriter(f)
        _Pickler(writer, world).dump(obj)
        f.write(_TRAILER + writer.digest.digest())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def _checked_bytes(path: Path, require_digest: bool = True) -> bytes:
    """The file's pickle, after checking the digest that ends it.

    Without ``require_digest`` a file with no digest (written before adasim added it) is
    returned as it is: unpickling it still fails if it was cut short.
    """
    data = path.read_bytes()
    tail = len(_TRAILER) + hashlib.sha256().digest_size
    if not data[-tail:].startswith(_TRAILER):
        if not require_digest:
            return data
        raise CheckpointUnreadable(
            f"checkpoint {path} is damaged (no digest at its end: cut short, or written "
            "by an older adasim)"
        )
    body, digest = data[:-tail], data[-tail + len(_TRAILER) :]
    if hashlib.sha256(body).digest() != digest:
        raise CheckpointUnreadable(f"checkpoint {path} is damaged (its sha256 differs)")
    return body


def checkpoint_intact(path: str | Path) -> bool:
    """Whether ``path`` exists and its content matches the digest written with it."""
    try:
        _checked_bytes(Path(path))
    except (OSError, CheckpointUnreadable):
        return False
    return True


def _load(path: Path, world: World) -> Any:
    if not path.is_file():
        raise SimulationError(f"checkpoint {path} does not exist")
    try:
        data = _checked_bytes(path, require_digest=False)
        return _Unpickler(io.BytesIO(data), world).load()
    except SimulationError:
        raise
    except Exception as err:  # pickle raises many kinds on damaged data
        raise CheckpointUnreadable(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {err})"
        ) from err


def save_checkpoint(path: str | Path, engine: Engine, extra: dict[str, Any] | None = None) -> Path:
    """Write the engine (with its policies) and ``extra`` atomically to ``path``.

    Call it between two ``engine.run`` calls, at a day boundary.
    """
    detached = {name: getattr(engine, name) for name in _DETACHED}
    try:
        for name in _DETACHED:
            setattr(engine, name, None)
        state = {"minute": detached["env"].now, "engine": engine, "extra": extra or {}}
        return _atomic_dump(Path(path), state, engine.world)
    finally:
        for name, value in detached.items():
            setattr(engine, name, value)


def save_snapshot(path: str | Path, obj: Any, world: World) -> Path:
    """Pickle ``obj`` atomically to ``path``; references to ``world`` are written by name."""
    return _atomic_dump(Path(path), obj, world)


def load_snapshot(path: str | Path, world: World) -> Any:
    """The object of :func:`save_snapshot`, re-attached to ``world``.

    Raises:
        CheckpointUnreadable: The file is damaged.
    """
    return _load(Path(path), world)


def load_checkpoint(path: str | Path, world: World) -> tuple[Engine, dict[str, Any]]:
    """Rebuild the engine of a checkpoint on ``world``; returns it and the ``extra`` dict.

    The engine gets a new simpy environment starting at the checkpoint's minute, no event
    log and no hooks: attach them before calling ``run``.

    Raises:
        CheckpointUnreadable: The file is damaged.
    """
    state = _load(Path(path), world)
    engine: Engine = state["engine"]
    engine.env = simpy.Environment(initial_time=state["minute"])
    engine.log = None
    engine._hooks = []
    engine._progress = None
    engine._started = False
    return engine, state["extra"]


def load_newest_intact(
    paths: list[Path], world: World
) -> tuple[Path, Engine, dict[str, Any]] | None:
    """Load the last of ``paths`` (oldest first) that is intact; ``None`` if none is.

    A damaged file is renamed to ``*.corrupt`` (kept, not deleted, for a look) and a line on
    stderr names it and the checkpoint the run falls back to.
    """
    for path in reversed(paths):
        try:
            engine, extra = load_checkpoint(path, world)
        except CheckpointUnreadable as err:
            path.replace(path.with_suffix(path.suffix + ".corrupt"))
            older = paths[: paths.index(path)]
            fallback = older[-1].name if older else "an earlier state"
            print(
                f"adasim: {err}; kept as {path.name}.corrupt, resuming from {fallback}",
                file=sys.stderr,
            )
            continue
        return path, engine, extra
    return None


def restart_clock(engine: Engine, minute: int) -> None:
    """Give ``engine`` a new simpy clock starting at ``minute`` (a day boundary).

    Used for every day of an experiment, resumed or not, so that both paths run the very
    same code. Hooks must be added again afterwards.
    """
    if minute % 1440:
        raise SimulationError(f"minute == {minute}, must be a day boundary (a multiple of 1440)")
    engine.env = simpy.Environment(initial_time=minute)
    engine._started = False
    engine._hooks = []


__all__ = [
    "CheckpointUnreadable",
    "checkpoint_intact",
    "load_checkpoint",
    "load_newest_intact",
    "load_snapshot",
    "restart_clock",
    "save_checkpoint",
    "save_snapshot",
]
