"""Run folders that adasim owns: a marker, a config check before resuming, a safe ``--fresh``.

A run folder is where one experiment writes (DESIGN section 6). adasim never deletes or
mixes into a folder it did not create, so every folder it writes carries a marker file,
:data:`MARKER`, with the run's name and the digest of its resolved config:

* a folder that does not exist, or is empty, becomes a run folder;
* a folder with the marker is resumed, but only if its ``config.toml`` equals the config
  asked for (seed included; the number of worker processes and progress display aside,
  which do not change a result; options added since it was written count at their
  defaults); otherwise one line names the first differing key and
  both values, and nothing is touched;
* a folder with other content is refused, whatever the options: it may be a user's;
* ``fresh`` (``adasim run --fresh``) empties a marked folder of what adasim wrote there
  (the entries of :data:`RUN_ENTRIES`) and leaves anything else in it alone; it refuses the
  current folder, the file-system root and the home folder outright.

Folders written by adasim before the marker existed (only adasim's entries, a
``config.toml`` among them) are recognised and marked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from simulator.config import Config, load_config
from simulator.errors import ConfigError

MARKER = ".adasim-run"
"""The file that marks a folder as written by adasim (JSON: kind, name, config digest)."""

RUN_ENTRIES: frozenset[str] = frozenset(
    {
        MARKER,
        "config.toml",
        "events",
        "twin",
        "checkpoints",
        ".staging",
        "users.parquet",
        "items.parquet",
        "summary.json",
        "report.md",
        "report.html",
        "figures",
        "ope",
        "history",
        "tuned.json",
    }
)
"""Everything adasim writes at the top of a run folder; ``fresh`` removes only these."""

RESULT_NEUTRAL_KEYS: frozenset[str] = frozenset({"experiment.workers", "engine.progress"})
"""Config keys that may differ between a run and its resume: they change no result."""


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _flatten(value, path)
        else:
            yield path, value


def config_digest(config: Config) -> str:
    """sha256 of the resolved config without :data:`RESULT_NEUTRAL_KEYS`."""
    flat = {
        k: v for k, v in _flatten(tomllib.loads(config.to_toml())) if k not in RESULT_NEUTRAL_KEYS
    }
    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()


def first_difference(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> str | None:
    """The first key (in sorted order) whose value differs, as ``key: A (folder) vs B``."""
    old = {k: v for k, v in _flatten(stored) if k not in RESULT_NEUTRAL_KEYS}
    new = {k: v for k, v in _flatten(wanted) if k not in RESULT_NEUTRAL_KEYS}
    missing = "(not set)"
    for key in sorted(old.keys() | new.keys()):
        if old.get(key, missing) != new.get(key, missing):
            return f"{key} is {old.get(key, missing)!r} there, {new.get(key, missing)!r} now"
    return None


def _refuse_special(root: Path) -> None:
    resolved = root.resolve()
    specials = {
        Path(resolved.anchor): "the file-system root",
        Path.cwd().resolve(): "the current folder",
    }
    home = Path.home().resolve()
    specials[home] = "the home folder"
    if resolved in specials:
        raise ConfigError(
            f"--out {root} is {specials[resolved]}; adasim deletes only inside a run folder "
            "it created: choose a run folder such as runs/NAME"
        )


def _is_marked(root: Path) -> bool:
    return (root / MARKER).is_file()


def _marked_kind(root: Path) -> str:
    try:
        return str(json.loads((root / MARKER).read_text(encoding="utf-8")).get("kind", "run"))
    except (OSError, ValueError, AttributeError):
        return "unknown"


def _looks_like_old_run(entries: list[str]) -> bool:
    return "config.toml" in entries and all(e in RUN_ENTRIES for e in entries)


def _write_marker(root: Path, config: Config, kind: str) -> None:
    record = {"kind": kind, "name": config.name, "config_sha256": config_digest(config)}
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, root / MARKER)


def _with_defaults(path: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored config with the options added since it was written at their defaults.

    A new option's default gives the earlier behaviour (the project's rule for every added
    option), so a run written before the option existed is the same run as one that sets it
    to its default, and resumes. A stored config this code cannot read is compared as it is.
    """
    try:
        return tomllib.loads(load_config(path).to_toml())
    except ConfigError:
        return stored


def _check_same_config(root: Path, config: Config) -> None:
    stored_path = root / "config.toml"
    if not stored_path.is_file():
        return  # marked but nothing run yet
    try:
        stored = tomllib.loads(stored_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(
            f"{stored_path} cannot be read ({err}); use --fresh to start over"
        ) from err
    wanted = tomllib.loads(config.to_toml())
    difference = first_difference(_with_defaults(stored_path, stored), wanted)
    if difference is not None:
        raise ConfigError(
            f"--out {root} holds a run of another config ({difference}); resuming it would "
            "mix two runs: use --fresh to replace it, or another --out"
        )


def _remove_run_entries(root: Path) -> None:
    for entry in sorted(RUN_ENTRIES - {MARKER}):
        path = root / entry
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def prepare_run_folder(
    root: str | Path, config: Config, fresh: bool = False, kind: str = "run"
) -> Path:
    """Make ``root`` a run folder for ``config`` (see the module docstring); returns it.

    Every check runs before anything is written or deleted.

    Raises:
        ConfigError: ``root`` is a file, not writable, holds files adasim did not write,
            holds a run of another config (without ``fresh``), or is the current folder,
            ``/`` or the home folder (with ``fresh``).
    """
    path = Path(root)
    if fresh:
        _refuse_special(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"--out {path} is a file, must be a folder (or a path that does not exist)"
        )
    entries = sorted(e.name for e in path.iterdir()) if path.is_dir() else []
    if entries and not _is_marked(path) and not _looks_like_old_run(entries):
        raise ConfigError(
            f"--out {path} holds files adasim did not write (no {MARKER} marker); "
            "adasim never writes into or deletes such a folder: choose another --out"
        )
    if entries and _is_marked(path) and _marked_kind(path) != kind:
        raise ConfigError(
            f"--out {path} holds an adasim {_marked_kind(path)} folder, not a {kind} "
            "folder: choose another --out"
        )
    if entries and not fresh:
        _check_same_config(path, config)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if fresh and entries:
            _remove_run_entries(path)
        _write_marker(path, config, kind)
    except OSError as err:
        raise ConfigError(f"--out {path} cannot be written ({err.strerror or err})") from err
    return path


__all__ = [
    "MARKER",
    "RESULT_NEUTRAL_KEYS",
    "RUN_ENTRIES",
    "config_digest",
    "first_difference",
    "prepare_run_folder",
]
