"""``adasim ope`` on a finished tiny run: strict JSON, progress, arguments checked first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from adasim.cli import main
from adasim.jobs.ope_run import evaluate_run
from adasim.registry import build_agent
from simulator.config import load_config
from simulator.engine.experiment import run_experiment
from simulator.errors import ConfigError
from tests.adasim.tiny_worlds import write_tiny_two_arm_world

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ope")
    path = write_tiny_two_arm_world(tmp / "tiny_ope.toml")
    return run_experiment(load_config(path), tmp / "run", build_agent, progress=False).root


def _strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"ope.json holds the non-JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_ope_json_is_strict_json_with_null_and_progress_goes_to_stderr(
    finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = evaluate_run(finished, n_bootstrap_samples=5, progress=True)
    payload = _strict(result.json.read_text())
    session = [r for r in payload["comparison"] if r["level"] == "session"]
    assert session
    assert all(r["truth"] is None for r in session)  # no per-session truth: null, not NaN
    err = capsys.readouterr().err
    assert "ope: replay" in err
    assert "2/2" in err  # both experiment days replayed
    assert "ope: estimate" in err


def test_command_hides_progress_on_request(
    finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ope", str(finished), "--bootstrap", "5", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "ope: replay" not in captured.err
    assert "ope:" in captured.out
    _strict((finished / "ope" / "ope.json").read_text())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bootstrap", "0"], r"--bootstrap == 0, must be >= 1"),
        (["--bootstrap", "-5"], r"--bootstrap == -5, must be >= 1"),
        (["--seed", "-1"], r"--seed == -1, must be >= 0"),
    ],
)
def test_bad_arguments_fail_before_any_work(
    finished: Path,
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adasim.jobs.ope_run as ope_run

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work started before the arguments were checked")

    for name in ("load_config", "load_events", "build_world", "treatment_distribution"):
        monkeypatch.setattr(ope_run, name, never)
    assert main(["ope", str(finished), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert __import__("re").search(message, err), err


def test_library_checks_the_bootstrap_count_first(
    finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adasim.jobs.ope_run as ope_run

    monkeypatch.setattr(ope_run, "load_config", lambda *a: pytest.fail("config was read"))
    with pytest.raises(ConfigError, match=r"n_bootstrap_samples == 0, must be >= 1"):
        evaluate_run(finished, n_bootstrap_samples=0)
    with pytest.raises(ConfigError, match=r"n_bootstrap_samples == 2\.5, must be an integer"):
        evaluate_run(finished, n_bootstrap_samples=2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "breaks", "message"),
    [
        ("events", lambda p: p.write_bytes(b""), r"is not a readable Parquet file"),
        ("events", lambda p: p.write_bytes(p.read_bytes()[:100]), r"not a readable Parquet"),
        ("users.parquet", lambda p: p.write_text("not parquet"), r"users file .* not a readable"),
    ],
)
def test_a_broken_run_file_is_one_line_naming_it(
    finished: Path,
    tmp_path: Path,
    target: str,
    breaks: Any,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    path = run / target
    if path.is_dir():
        path = sorted(path.glob("*.parquet"))[-1]
    breaks(path)
    assert main(["ope", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "Traceback" not in err
    assert str(path) in err
    assert __import__("re").search(message, err), err
