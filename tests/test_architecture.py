"""The dependency rules of DESIGN section 1, checked on the source (imports, not prose).

* ``analysis`` imports none of the other packages and no torch: it must run on any log.
* ``adaf2m2`` imports only torch, numpy and itself: it wraps any base model.
* ``agents`` may use the simulator's pure-data modules (the ``Recommender`` contract, the
  errors, the arm config) and ``adaf2m2``, never the engine or ``analysis``.
* ``simulator`` imports none of ``agents``, ``analysis``, ``adaf2m2``, torch or ``adasim``;
  inside it, the world (``simulator/world/``) imports nothing of the engine.
* ``adasim``, the application (command line, composition root, jobs), may import them all;
  ``analysis``, ``agents`` and ``adaf2m2`` never import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("adasim", "simulator", "agents", "adaf2m2", "analysis")
SIMULATOR_DATA_MODULES = {"simulator.types", "simulator.errors", "simulator.experiment_config"}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (absolute names), at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", files("analysis"), ids=lambda p: str(p.relative_to(ROOT)))
def test_analysis_stands_alone(path: Path) -> None:
    bad = {n for n in imports_of(path) if top(n) in {"simulator", "agents", "adaf2m2", "torch"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", files("adaf2m2"), ids=lambda p: str(p.relative_to(ROOT)))
def test_adaf2m2_wraps_any_model(path: Path) -> None:
    bad = {n for n in imports_of(path) if top(n) in {"simulator", "agents", "analysis"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", files("agents"), ids=lambda p: str(p.relative_to(ROOT)))
def test_agents_use_only_the_contract(path: Path) -> None:
    names = imports_of(path)
    bad = {n for n in names if top(n) == "analysis"}
    bad |= {n for n in names if top(n) == "simulator" and n not in SIMULATOR_DATA_MODULES}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", files("simulator"), ids=lambda p: str(p.relative_to(ROOT)))
def test_simulator_reaches_no_other_package(path: Path) -> None:
    forbidden = {"agents", "analysis", "adaf2m2", "torch", "adasim"}
    bad = {n for n in imports_of(path) if top(n) in forbidden}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", files("simulator/world"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_world_knows_nothing_of_the_engine(path: Path) -> None:
    bad = {
        n for n in imports_of(path) if n == "simulator.engine" or n.startswith("simulator.engine.")
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path",
    [p for package in ("analysis", "agents", "adaf2m2") for p in files(package)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_package_imports_the_application(path: Path) -> None:
    bad = {n for n in imports_of(path) if top(n) == "adasim"}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


MOVED_TO_ADASIM = {
    "simulator.cli": "adasim.cli",
    "simulator.console": "adasim.console",
    "simulator.commands": "adasim.commands",
    "simulator.registry": "adasim.registry",
    "simulator.sweep": "adasim.jobs.sweep",
    "simulator.sweep_backends": "adasim.jobs.sweep_backends",
    "simulator.offline_run": "adasim.jobs.offline_run",
    "simulator.ope_run": "adasim.jobs.ope_run",
    "simulator.run_analysis": "adasim.jobs.run_analysis",
}
"""The application modules that left ``simulator/`` (docs/architecture.md, "Where the
application modules went"): their old paths stay gone, because a re-export in
``simulator/`` would have to import ``adasim``, against the rule above."""


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_TO_ADASIM.items()))
def test_moved_modules_live_only_at_their_new_path(old: str, new: str) -> None:
    relative = Path(*old.split("."))
    assert not (ROOT / f"{relative}.py").exists(), old
    assert not (ROOT / relative).is_dir(), old
    target = Path(*new.split("."))
    assert (ROOT / f"{target}.py").exists() or (ROOT / target / "__init__.py").exists(), new
