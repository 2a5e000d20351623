"""The ``adasim`` command line: simulate end to end, and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import COMMANDS, main

QUICK = str(Path(__file__).resolve().parents[2] / "configs" / "quick.toml")


def test_simulate_prints_summary_and_writes_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    status = main(
        [
            "simulate",
            QUICK,
            "--policy",
            "popular",
            "--days",
            "1",
            "--out",
            str(out),
            "--set",
            "world.n_users=500",
            "--seed",
            "3",
            "--no-progress",
        ]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "top 5% items" in text
    assert "noise-skip share" in text
    assert "new" in text
    summary = json.loads((out / "summary.json").read_text())
    for key in ("top5_item_share", "top5_user_share", "noise_skip_share", "finish_rate"):
        assert 0 <= summary[key] <= 1
    assert set(summary["active_days_per_user"]) == {"new", "old", "all"}
    assert set(summary["duration_per_user"]) == {"new", "old", "all"}
    cfg = (out / "config.toml").read_text()
    assert "seed = 3" in cfg
    assert 'policy = "popular"' in cfg
    assert "n_users = 500" in cfg
    assert (out / "users.parquet").exists()
    assert (out / "items.parquet").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "nope.toml", "--out", "x"], r"config file 'nope\.toml' does not exist"),
        (
            ["simulate", QUICK, "--out", "x", "--set", "world.n_users=-3"],
            r"world\.n_users == -3, must be > 0",
        ),
        (
            ["simulate", QUICK, "--out", "x", "--set", "world.bogus=1"],
            r"world\.bogus is an unknown key",
        ),
        (["simulate", QUICK, "--out", "x", "--days", "0"], r"simulate\.days == 0"),
    ],
)
def test_errors_are_one_line_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_commands_follow_the_module_contract() -> None:
    for module in COMMANDS:
        assert callable(module.add_parser)
        assert callable(module.run)
