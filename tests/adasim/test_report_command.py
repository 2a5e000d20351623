"""``adasim report RUN_DIR``: the command module parses, builds the report, and exits 0/2.

On a finished ``adasim run`` it rebuilds exactly the report the run wrote (the run is
made once per module: ``configs/quick.toml`` on a smaller world, one worker process).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from adasim.cli import build_parser, main
from adasim.commands import report as report_command
from analysis.synthetic import SyntheticLogConfig, synthetic_log

ROOT = Path(__file__).resolve().parents[2]
REPORT_FILES = ("report.md", "report.html", "summary.json")


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
    summary = json.loads((tmp_path / "summary.json").read_text())
    # A plain log's report has the headline table too (no twin: no truth, no '!').
    assert len(summary["lift_table"]) == 18
    assert summary["config"]["ab"]["alpha"] == 0.1
    assert summary["config"]["ab"]["correction"] == "bh"
    assert out.startswith("State ")
    assert "Benjamini-Hochberg" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "/nonexistent/run"], "has no users.parquet"),
        (["report", "/nonexistent/run", "--start-day", "3"], "give both"),
        (["report", "/nonexistent/run", "--pre-start-day", "0"], "without a window"),
    ],
)
def test_report_command_bad_input_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parser().parse_args(argv)
    assert report_command.run(args) == 2
    err = capsys.readouterr().err
    assert "adasim report:" in err
    assert message in err


def test_help_is_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report", "--help"])
    out = capsys.readouterr().out
    assert "exactly the one the run wrote" in out
    assert "examples:" in out
    assert "Thin:" not in out  # the module's docstring is for developers
    assert ":func:" not in out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A finished quick run (seed 3), a copy of what it wrote, and what it printed."""
    base = tmp_path_factory.mktemp("quick")
    run_dir, written = base / "run", base / "written"
    argv = ["run", str(ROOT / "configs/quick.toml"), "--out", str(run_dir), "--no-progress"]
    argv += ["--seed", "3", "--set", "experiment.workers=1", "--set", "world.n_users=600"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    written.mkdir()
    for name in REPORT_FILES:
        shutil.copy(run_dir / name, written / name)
    shutil.copytree(run_dir / "figures", written / "figures")
    return run_dir, written, printed.getvalue()


def test_rebuilt_report_is_the_runs_own(
    finished_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, written, printed = finished_run
    for name in REPORT_FILES:
        (run_dir / name).unlink()
    shutil.rmtree(run_dir / "figures")
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert (run_dir / "report.md").read_text() == (written / "report.md").read_text()
    assert (run_dir / "report.html").read_text() == (written / "report.html").read_text()
    rebuilt = json.loads((run_dir / "summary.json").read_text())
    assert rebuilt == json.loads((written / "summary.json").read_text())
    for png in sorted((written / "figures").glob("*.png")):
        assert (run_dir / "figures" / png.name).read_bytes() == png.read_bytes(), png.name
    # What the old rebuild dropped is there, and the title is the run's.
    assert rebuilt["seed"] == 3
    assert rebuilt["title"] == "quick: treatment vs control"
    assert {"twin_truth", "training_losses"} <= set(rebuilt["extra_sections"])
    # The twin's truth is in every cell where it is defined: wherever the twin's control
    # mean is not 0 (a cohort that never disliked a song has no relative lift).
    control = {
        (r["metric"], r["segment"]): r["control"]
        for r in rebuilt["extra_sections"]["twin_truth"]["rows"]
    }
    for cell in rebuilt["lift_table"]:
        undefined = control[cell["metric"], cell["segment"]] == 0.0
        assert (cell["true_rel_effect_size"] is None) == undefined, cell
    # It prints the table `adasim run` printed, legend included.
    table = out.split("\n\nwrote ")[0]
    assert table in printed
    assert table.splitlines()[0].startswith("State ")


def test_marks_agree_with_the_summary(finished_run: tuple[Path, Path, str]) -> None:
    """Each cell whose interval misses the truth carries '!' in the terminal table and in
    report.md, as many as summary.json's flags; the headline comes right after the title."""
    _, written, printed = finished_run
    summary = json.loads((written / "summary.json").read_text())
    misses = sum(bool(cell["truth_outside_ci"]) for cell in summary["lift_table"])
    # Cells with a truth and an interval (a cohort that never disliked a song has neither).
    known = sum(
        None not in (c["true_rel_effect_size"], c["rel_effect_size_ci_lower"])
        for c in summary["lift_table"]
    )
    table = printed[printed.index("State ") :]
    assert table.count("]!") + table.count("]*!") == misses
    assert f"({misses} of {known} cells)" in table
    md = (written / "report.md").read_text()
    assert md.count("]!;") + md.count("]*!;") == misses
    sections = [line for line in md.splitlines() if line.startswith("#")]
    assert sections[:2] == [
        "# quick: treatment vs control",
        "## Relative lifts (treatment vs control)",
    ]
    assert md.index("| State |") < md.index("![Lift by metric and segment]")
    page = (written / "report.html").read_text()
    assert page.index('<table class="lift-table">') < page.index("<figure>")
    assert page.count(">!</strong>") == misses


def test_every_run_reports_its_exposure(finished_run: tuple[Path, Path, str]) -> None:
    """The exposure sections are in report.md and report.html, with the twins as arms; the
    summary has every arm and day, in strict JSON."""
    _, written, _ = finished_run
    md = (written / "report.md").read_text()
    assert "\n## Exposure\n" in md
    assert "\n## Exposure by day\n" in md
    assert "| twin:treatment | 3 |" in md  # the twin everyone-on-treatment world, 3 days
    page = (written / "report.html").read_text()
    assert "<h2>Exposure</h2>" in page
    assert "<h2>Exposure by day</h2>" in page

    def no_constants(name: str) -> None:
        raise AssertionError(f"summary.json holds {name}")

    summary = json.loads((written / "summary.json").read_text(), parse_constant=no_constants)
    exposure = summary["exposure"]
    arms = ["control", "treatment", "twin:control", "twin:treatment"]
    assert [r["arm"] for r in exposure["arms"]] == arms
    # quick: one pre-period day (0), then the experiment's three days.
    assert [(r["arm"], r["day"]) for r in exposure["days"]] == [
        (a, d) for a in arms for d in (1, 2, 3)
    ]
    assert exposure["config"]["start_day"] == 1
    for row in exposure["arms"]:
        assert row["n_impressions"] == row["n_exploration"] + row["n_exploitation"] > 0
        assert 0 < row["min_coverage"] <= row["mean_coverage"] <= row["coverage"]
    assert {"exposure", "exposure_by_day"} <= set(summary["extra_sections"])


def test_every_run_reports_the_treatments_retrieval_recall(
    finished_run: tuple[Path, Path, str],
) -> None:
    _, written, _ = finished_run
    assert "\n## Retrieval recall of treatment\n" in (written / "report.md").read_text()
    summary = json.loads((written / "summary.json").read_text())
    rows = summary["retrieval_recall"]
    assert [r["day"] for r in rows] == [1, 2, 3]
    for row in rows:
        assert 0 <= row["popularity_recall"] <= 1
        assert 0 <= row["recall"] <= 1
        assert row["n"] <= row["distinct_retrieved"] <= row["n"] * row["n_users"]


def test_options_apply_on_top_of_the_run(
    finished_run: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, written, _ = finished_run
    out = tmp_path / "alpha10"
    argv = ["report", str(run_dir), "--alpha", "0.1", "--no-cuped", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    run_summary = json.loads((written / "summary.json").read_text())
    assert summary["config"]["ab"]["alpha"] == 0.1
    assert summary["config"]["ab"]["cuped"] is False
    # The rest is the run's: window, arms' split, title, seed, twin and loss sections.
    for key in ("title", "seed", "window", "source"):
        assert summary[key] == run_summary[key]
    assert (
        summary["config"]["ab"]["expected_share"] == run_summary["config"]["ab"]["expected_share"]
    )
    assert set(summary["extra_sections"]) == set(run_summary["extra_sections"])
    assert summary["lift_table"][0]["true_rel_effect_size"] is not None
    assert "[ ]: 90% interval of each cell" in (out / "report.md").read_text().replace("`", "")
    # The run's own report is left alone.
    assert (run_dir / "report.md").read_text() == (written / "report.md").read_text()


def test_an_arm_the_run_does_not_have_exits_2(
    finished_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _, _ = finished_run
    assert main(["report", str(run_dir), "--treatment", "bogus", "--out", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "treatment == 'bogus', must be one of the run's arms: control, treatment" in err
