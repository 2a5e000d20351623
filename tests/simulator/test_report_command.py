"""``adasim report RUN_DIR``: the command module parses, builds the report, and exits 0/2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from analysis.synthetic import SyntheticLogConfig, synthetic_log
from simulator.commands import report as report_command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adasim")
    report_command.add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_report_command_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = SyntheticLogConfig(n_users=400, n_days=3, pre_days=2)
    events, users = synthetic_log(cfg, rng=1)
    (tmp_path / "events").mkdir()
    events.to_parquet(tmp_path / "events" / "part-00000.parquet")
    users.to_parquet(tmp_path / "users.parquet")
    args = _parser().parse_args(["report", str(tmp_path), "--correction", "bh", "--alpha", "0.1"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "wrote" in out
    assert (tmp_path / "report.html").exists()
    assert (tmp_path / "summary.json").exists()


@pytest.mark.parametrize(
    "argv",
    [["report", "/nonexistent/run"], ["report", "/nonexistent/run", "--start-day", "3"]],
)
def test_report_command_bad_input_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parser().parse_args(argv)
    assert report_command.run(args) == 2
    assert "adasim report:" in capsys.readouterr().err
