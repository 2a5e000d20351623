"""Every file of the project that the README and the documents name exists.

The package moves renamed files (``simulator/`` into ``world/`` and ``engine/``, the
application into ``adasim/``); a document still naming an old path sends the reader to
nothing. A preset is named relative to ``configs/`` in the README's presets table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md")])
TOP = "simulator|agents|adaf2m2|analysis|adasim|tests|benchmarks|scripts|configs|docs"
# A path in backticks, as the documents write them (`simulator/engine/experiment.py`,
# `tests/x.py::test_y`); a run's output (runs/..., RUN/...) is not a file of the project.
NAMED_PATH = re.compile(rf"`((?:{TOP})/[\w/.\-]+?\.(?:py|toml|md|json))(?:::\w+)?`")


def named_paths(document: Path) -> list[tuple[int, str]]:
    """(line number, path) of every project file ``document`` names in backticks."""
    lines = document.read_text().splitlines()
    return [(i, m.group(1)) for i, line in enumerate(lines, 1) for m in NAMED_PATH.finditer(line)]


def test_the_pattern_finds_paths() -> None:
    # The scan must see something, or the test below would pass on nothing.
    assert len([p for d in DOCUMENTS for p in named_paths(d)]) > 50


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_file_exists(document: Path) -> None:
    missing = [
        f"line {i}: {path}"
        for i, path in named_paths(document)
        if not (ROOT / path).exists() and not (ROOT / "configs" / path).exists()
    ]
    assert not missing, f"{document.relative_to(ROOT)} names missing files: {missing}"
