"""``adasim run configs/quick.toml`` end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adasim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_quick_config_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "quick"
    status = main(["run", str(ROOT / "configs/quick.toml"), "--out", str(out), "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    for label in ("New users", "Old users", "Overall", "Active Days", "Duration", "true "):
        assert label in printed
    summary = json.loads((out / "summary.json").read_text())
    cells = summary["lift_table"]
    assert {c["segment"] for c in cells} == {"new", "old", "all"}
    assert len(cells) == 18
    assert summary["seed"] == 7
    for name in ("config.toml", "users.parquet", "report.md", "report.html"):
        assert (out / name).is_file()
    assert list((out / "figures").glob("*.png"))


def test_bad_config_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "run",
            str(ROOT / "configs/quick.toml"),
            "--out",
            str(tmp_path / "x"),
            "--set",
            "arms.treatment.k=0",
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "arms.treatment.k == 0, must be >= 1" in err
    assert not (tmp_path / "x" / "events").exists()
