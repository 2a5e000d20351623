"""A run's tuning: ``adasim run CONFIG --tuned FILE`` and the note of its report.

A ``tuned.json`` (written by ``adasim tune``, :mod:`adasim.jobs.tune`) names per arm the
chosen ``lr`` and ``embed_dim`` and the budget they were chosen with. A run applies them as
``arms.NAME.lr`` and ``arms.NAME.embed_dim`` overrides (so its ``config.toml`` records
them), keeps a copy of the file in its folder, and says so when its arms were not tuned
with one budget (an arm tuned and another not; files tuned separately and merged): the
warning is printed and stored in the copy, and :func:`tuning_note` gives the report its
sentence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.config import Config
from simulator.errors import ConfigError
from simulator.experiment_config import ArmConfig

TUNED_FILE = "tuned.json"
"""The tuning's output in its folder, and its copy in a run folder."""

FORMAT = "adasim-tuned/1"
"""The ``format`` of a ``tuned.json``."""


def skip_reason(arm: ArmConfig) -> str | None:
    """Why an arm is not tuned (``None``: a two-stage arm, tuned)."""
    if arm.agent == "two_stage":
        return None
    if arm.agent in ("random", "popular", "oracle"):
        return f"agent {arm.agent!r} has no learning rate or embedding size: nothing to tune"
    return f"a custom agent ({arm.agent}): its factory owns its training; adasim does not tune it"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as strict JSON (NaN as null), atomically."""
    from adasim.jobs.diagnose import json_ready

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_tuned(path: str | Path, source: str = "--tuned") -> dict[str, Any]:
    """A ``tuned.json``, checked (one-line errors that name ``source`` and the key)."""
    p = Path(path)
    where = f"{source} {p}"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file (adasim tune writes OUT/{TUNED_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{where} is not a readable JSON file ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{where}: format == {got!r}, must be {FORMAT!r} (adasim tune's)")
    arms = data.get("arms")
    if not isinstance(arms, dict) or not arms:
        raise ConfigError(f"{where}: arms == {arms!r}, must map at least one arm to its values")
    for name, entry in arms.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: arms.{name} == {entry!r}, must be a table")
        lr, dim = entry.get("lr"), entry.get("embed_dim")
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr):
            raise ConfigError(f"{where}: arms.{name}.lr == {lr!r}, must be a number > 0")
        if lr <= 0:
            raise ConfigError(f"{where}: arms.{name}.lr == {lr!r}, must be a number > 0")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"{where}: arms.{name}.embed_dim == {dim!r}, must be an integer >= 1")
    return data


def tuning_warning(tuned: Mapping[str, Any], config: Config) -> str | None:
    """One line if the run's two-stage arms were not tuned with one budget (else ``None``).

    Unequal: an arm tuned and another not, or two arms' ``budget`` or ``data`` entries
    (grid, epochs, rows, history) that differ, as when files tuned separately are merged.
    """
    arms: Mapping[str, Any] = tuned["arms"]
    tunable = [n for n, a in config.arms.items() if skip_reason(a) is None]
    untuned = [n for n in tunable if n not in arms]
    tuned_here = [n for n in tunable if n in arms]
    if untuned and tuned_here:
        return (
            f"{_were(tuned_here)} tuned (tuned.json), {_were(untuned)} not: the arms were "
            "tuned with different budgets"
        )
    for key in ("budget", "data"):
        # The folder a history was read from is not the data: the same world's log
        # simulated into two folders is the same log.
        entries = {
            n: {k: v for k, v in _flat(arms[n].get(key)).items() if k != "history"}
            for n in tuned_here
        }
        if not entries:
            continue
        ref_name = tuned_here[0]
        for name in tuned_here[1:]:
            a, b = entries[ref_name], entries[name]
            for k in sorted(a.keys() | b.keys()):
                if a.get(k) != b.get(k):
                    return (
                        f"arms {ref_name} and {name} were tuned with different budgets "
                        f"({key}.{k}: {a.get(k)!r} for {ref_name}, {b.get(k)!r} for {name})"
                    )
    return None


def _were(names: list[str]) -> str:
    return f"arm {names[0]} was" if len(names) == 1 else f"arms {', '.join(names)} were"


def _flat(value: object) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class TunedRun:
    """A config with a ``tuned.json`` applied (``adasim run --tuned``).

    Attributes:
        config: The config with ``arms.NAME.lr`` and ``arms.NAME.embed_dim`` replaced.
        tuned: The file's content.
        source: The file.
        warning: :func:`tuning_warning` of it (``None``: one budget for every arm).
    """

    config: Config
    tuned: dict[str, Any]
    source: Path
    warning: str | None


def apply_tuned(config: Config, path: str | Path, source: str = "--tuned") -> TunedRun:
    """Check a ``tuned.json`` against ``config`` and apply its values as overrides.

    Every arm it names must be a two-stage arm of ``config``; the overrides are applied
    after the caller's own (``--set``), so the tuned values win.
    """
    tuned = read_tuned(path, source)
    where = f"{source} {path}"
    overrides: list[str] = []
    for name, entry in tuned["arms"].items():
        if name not in config.arms:
            raise ConfigError(
                f"{where} names arm {name!r}, which the config has not (its arms: "
                f"{', '.join(config.arms) or 'none'})"
            )
        why = skip_reason(config.arms[name])
        if why is not None:
            raise ConfigError(f"{where} names arm {name!r}: {why}")
        overrides += [
            f"arms.{name}.lr={float(entry['lr'])!r}",
            f"arms.{name}.embed_dim={int(entry['embed_dim'])}",
        ]
    tuned_config = config.with_overrides(overrides, source=where)
    return TunedRun(tuned_config, tuned, Path(path), tuning_warning(tuned, tuned_config))


def record_tuned_run(run: TunedRun, run_dir: str | Path) -> Path:
    """Copy the tuning into the run folder as ``tuned.json``, with the run's warning."""
    copy = {
        **run.tuned,
        "source": str(run.source),
        "warnings": [run.warning] if run.warning else [],
    }
    path = Path(run_dir) / TUNED_FILE
    write_json(path, copy)
    return path


def tuning_note(run_dir: str | Path) -> str | None:
    """One sentence on how a run's arms were tuned, for its report (``None``: not tuned).

    Says so when the arms were tuned with different budgets, or when the copy does not
    match the run's ``config.toml``.
    """
    import tomllib

    root = Path(run_dir)
    path = root / TUNED_FILE
    if not path.is_file():
        return None
    try:
        tuned = read_tuned(path, source="run copy")
    except ConfigError as err:
        return f"Tuning: {err}."
    warnings = [w for w in tuned.get("warnings", []) if isinstance(w, str)]
    if warnings:
        return "Tuning: " + "; ".join(warnings) + "."
    stored = root / "config.toml"
    if stored.is_file():
        arms = tomllib.loads(stored.read_text(encoding="utf-8")).get("arms", {})
        for name, entry in tuned["arms"].items():
            for key in ("lr", "embed_dim"):
                have = arms.get(name, {}).get(key)
                if have != entry[key]:
                    return (
                        f"Tuning: {TUNED_FILE} does not match this run's config.toml "
                        f"(arms.{name}.{key} is {have!r}, tuned {entry[key]!r}): the run "
                        "did not use the tuned values."
                    )
    budget = _flat(tuned.get("budget"))
    data = _flat(tuned.get("data"))
    choices = "; ".join(
        f"{n} lr {e['lr']:g}, embed_dim {e['embed_dim']}" for n, e in tuned["arms"].items()
    )
    grid = ""
    if budget:
        lrs = ", ".join(f"{x:g}" for x in budget.get("lrs", []))
        dims = ", ".join(str(x) for x in budget.get("embed_dims", []))
        grid = (
            f" over lr in {{{lrs}}} x embed_dim in {{{dims}}}, at most "
            f"{budget.get('max_epochs')} epochs on the same {data.get('n_train', 0):,} "
            "history rows each"
        )
    return (
        f"Tuning: the arms were tuned with one procedure{grid}, chosen by validation AUC "
        f"(never the test days): {choices}."
    )


__all__ = [
    "FORMAT",
    "TUNED_FILE",
    "TunedRun",
    "apply_tuned",
    "read_tuned",
    "record_tuned_run",
    "skip_reason",
    "tuning_note",
    "tuning_warning",
    "write_json",
]
