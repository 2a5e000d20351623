"""The ``adasim`` command line: simulate end to end, and one-line errors with exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adasim.cli import COMMANDS, main

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
        # The README's example: a bad --set value names --set, not the file.
        (
            ["run", QUICK, "--out", "x", "--set", "arms.treatment.k=0"],
            r"^adasim run: error: arms\.treatment\.k == 0, must be >= 1 \(in --set\)$",
        ),
        (
            ["run", QUICK, "--out", "x", "--set", "arms.treatment.agent=mypkg.agents"],
            r"arms\.treatment\.agent == 'mypkg\.agents', must be one of 'two_stage', "
            r"'random', 'popular', 'oracle', or a custom agent's factory "
            r"'package\.module:factory' \(in --set\)$",
        ),
        (
            # A factory that cannot be imported: refused before the run folder is made.
            ["run", QUICK, "--out", "x", "--set", "arms.treatment.agent=mypkg.agents:make"],
            r"^adasim run: error: arms\.treatment\.agent == 'mypkg\.agents:make', module "
            r"'mypkg\.agents' cannot be imported \(ModuleNotFoundError: No module named "
            r"'mypkg'\); it must be importable .*; see docs/agents\.md$",
        ),
        (
            ["run", QUICK, "--out", "x", "--set", "arms.control.n_candidates=5000"],
            r"arms\.control\.n_candidates == 5000, must be <= world\.n_items \(1000\)",
        ),
        (
            ["run", QUICK, "--out", "x", "--set", "world.n_items=5"],
            r"arms\.control\.n_candidates == 10, must be <= world\.n_items \(5\).* \(in --set\)$",
        ),
        (
            ["sweep", QUICK, "--grid", "world.behavior.noise_skip_rate=0.1,1.5", "--out", "s"],
            r"--grid cell world\.behavior\.noise_skip_rate=1\.5: .*must be in \[0, 1\)",
        ),
        (["sweep", QUICK, "--workers", "-2", "--out", "s"], r"workers == -2, must be >= 1"),
        (["ope", "runs/none", "--bootstrap", "0"], r"--bootstrap == 0, must be >= 1"),
        (["offline", "--data", "sim:none", "--framework", "magic"], r"--framework contains"),
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
    assert list(tmp_path.iterdir()) == []  # stopped before anything was written


@pytest.mark.parametrize("command", ["report", "offline"])
@pytest.mark.parametrize(
    "breaks",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(p.read_bytes()[:200]),
        lambda p: p.write_text("day,user_id\n0,1\n"),
    ],
    ids=["empty", "truncated", "csv"],
)
def test_a_broken_event_file_is_one_line_naming_it(
    command: str,
    breaks: Any,
    tiny_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    bad = sorted((run / "events").glob("*.parquet"))[-1]
    breaks(bad)
    argv = {
        "report": ["report", str(run)],
        # The experiment's log, which the test breaks (by default offline reads the history).
        "offline": [
            "offline",
            *("--data", f"sim:{run}", "--log", "experiment", "--models", "fm", "--quiet"),
        ],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "Traceback" not in err
    assert f"events file {str(bad)!r} is not a readable Parquet file" in err, err


def test_commands_follow_the_module_contract() -> None:
    for module in COMMANDS:
        assert callable(module.add_parser)
        assert callable(module.run)


ROOT = Path(__file__).resolve().parents[2]


def _subparsers() -> dict[str, Any]:
    import argparse

    parser = __import__("adasim.cli", fromlist=["build_parser"]).build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def test_readme_names_the_commands_that_take_set() -> None:
    takes_set = {
        name
        for name, sub in _subparsers().items()
        if any("--set" in a.option_strings for a in sub._actions)
    }
    assert takes_set == {"run", "simulate", "sweep", "diagnose", "tune"}
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert (
        "The commands that read a config file, `run`, `simulate`, `diagnose`, `tune` and "
        "`sweep`, take" in readme
    )
    assert "Every command takes `--set" not in readme
    assert "(in --set)" in readme


def test_help_is_written_for_users() -> None:
    subs = _subparsers()
    offline = subs["offline"].format_help()
    assert "Thin:" not in offline
    assert "Every option is checked before the data is read" in offline
    backend = next(a for a in subs["sweep"]._actions if "--backend" in a.option_strings)
    assert backend.help
    assert "serial" in backend.help
    assert "ray" in backend.help


def test_python_m_adasim_is_the_command() -> None:
    # Without the console script on PATH (a venv not activated): the same command, pinned.
    done = subprocess.run(
        [sys.executable, "-m", "adasim", "fingerprint", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: adasim fingerprint")


def test_architecture_points_at_no_missing_design_file() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert "../shared/DESIGN.md" not in text
    assert "kept outside this repository" in text
