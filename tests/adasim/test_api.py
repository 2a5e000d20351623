"""``import adasim``: each function equals its command, checks its arguments first, and
importing the package stays light.

Every comparison runs the command and the function on the same inputs and compares what
they wrote, byte for byte (into the same folder where the folder's path is part of the
files). The worlds are tiny and, except for the OPE run (which needs a learning
treatment), torch-free: random against popular, twin off, a few seconds per run.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import adasim
from adasim.cli import main
from adasim.results import ReportResult, RunResult
from analysis.synthetic import SyntheticLogConfig, synthetic_log
from analysis.tables import load_events
from simulator.config import load_config
from simulator.errors import ConfigError
from tests.adasim.tiny_worlds import TINY_TWO_ARM_WORLD, random_vs_popular

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"

CHEAP = random_vs_popular("cheap_api", 11, twin=False)
"""Torch-free arms on a 300-user world with a 2-day history: a run takes seconds."""

TINY_DIAGNOSE = (
    "world.n_users=150",
    "world.n_items=120",
    "world.history_days=3",
    "world.new_users_per_day=5",
)
"""``configs/quick.toml`` shrunk as ``tests/adasim/test_diagnose.py`` does."""


def _cli(argv: list[str]) -> str:
    """Run the command line; its stdout (the status must be 0)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return printed.getvalue()


def _files(folder: Path, *names: str) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in names}


@pytest.fixture(scope="module")
def cheap_toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("configs") / "cheap_api.toml"
    path.write_text(CHEAP, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def both_runs(
    cheap_toml: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, bytes], pd.DataFrame, str, RunResult]:
    """``adasim run`` into a folder, then ``adasim.run`` into the same one, fresh.

    The same folder, because its path is in the report (``source``); ``fresh=True``
    removes the command's run first, so the function runs it again from nothing.
    """
    out = tmp_path_factory.mktemp("run") / "cheap"
    printed = _cli(["run", str(cheap_toml), "--out", str(out), "--no-progress"])
    written = _files(out, "config.toml", "summary.json", "report.md", "report.html")
    events = load_events(out / "events")
    result = adasim.run(cheap_toml, out, fresh=True)
    return written, events, printed, result


# ------------------------------------------------------------------ run and report


def test_run_writes_what_the_command_writes(
    both_runs: tuple[dict[str, bytes], pd.DataFrame, str, RunResult],
) -> None:
    written, events, printed, result = both_runs
    assert isinstance(result, RunResult)
    assert _files(result.run_dir, *written) == written
    pd.testing.assert_frame_equal(result.events(), events)
    assert str(result.table) in printed  # the table the command prints
    assert result.summary == json.loads(written["summary.json"])
    assert result.summary_json == result.run_dir / "summary.json"
    assert result.report_md.read_bytes() == written["report.md"]
    assert result.config == load_config(result.run_dir / "config.toml")
    cells = result.to_pandas()
    assert len(cells) == len(result.summary["lift_table"]) == 18
    assert cells["rel_effect_size"].tolist() == pytest.approx(
        [c["rel_effect_size"] for c in result.summary["lift_table"]], nan_ok=True
    )
    assert result.to_dicts() == result.summary["lift_table"]


def test_run_takes_a_config_object_and_workers(
    both_runs: tuple[dict[str, bytes], pd.DataFrame, str, RunResult], tmp_path: Path
) -> None:
    _, _, _, first = both_runs
    # A finished folder of the same config is analysed again, not rerun.
    again = adasim.run(first.config, first.run_dir, workers=1)
    assert again.summary == first.summary
    assert again.config == first.config


def test_report_of_a_run_equals_the_command(
    both_runs: tuple[dict[str, bytes], pd.DataFrame, str, RunResult], tmp_path: Path
) -> None:
    run_dir = both_runs[3].run_dir
    by_cli, by_api = tmp_path / "cli", tmp_path / "api"
    _cli(["report", str(run_dir), "--alpha", "0.1", "--segments", "all,new", "--out", str(by_cli)])
    result = adasim.report(run_dir, by_api, alpha=0.1, segments=["all", "new"])
    assert isinstance(result, RunResult)  # adasim wrote it: the run's config comes along
    for name in ("summary.json", "report.md"):
        assert (by_api / name).read_bytes() == (by_cli / name).read_bytes(), name
    assert result.summary["config"]["ab"]["alpha"] == 0.1
    assert set(result.to_pandas()["segment"]) == {"all", "new"}


def test_report_of_a_plain_log_equals_the_command(tmp_path: Path) -> None:
    events, users = synthetic_log(SyntheticLogConfig(n_users=300, n_days=3, pre_days=2), rng=1)
    log = tmp_path / "log"
    (log / "events").mkdir(parents=True)
    events.to_parquet(log / "events" / "part-00000.parquet")
    users.to_parquet(log / "users.parquet")
    printed = _cli(["report", str(log), "--correction", "bh", "--out", str(tmp_path / "cli")])
    result = adasim.report(log, tmp_path / "api", correction="bh")
    assert type(result) is ReportResult
    for name in ("summary.json", "report.md"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    assert str(result) in printed
    assert len(result.to_pandas()) == 18
    pd.testing.assert_frame_equal(result.events(), pd.read_parquet(log / "events"))


# ------------------------------------------------------------------ sweep, offline


def test_sweep_equals_the_command(cheap_toml: Path, tmp_path: Path) -> None:
    by_cli, by_api = tmp_path / "cli", tmp_path / "api"
    _cli(["sweep", str(cheap_toml), "--replicates", "1", "--out", str(by_cli), "--no-progress"])
    result = adasim.sweep(load_config(cheap_toml), by_api)
    table = result.to_pandas()
    pd.testing.assert_frame_equal(table, pd.read_parquet(by_cli / "table.parquet"))
    assert len(table) == 18
    assert (table["status"] == "ok").all()
    assert result.report is not None
    assert (by_api / "report.md").read_bytes() == (by_cli / "report.md").read_bytes()
    assert result.n_failed == 0


def test_offline_equals_the_command(
    both_runs: tuple[dict[str, bytes], pd.DataFrame, str, RunResult], tmp_path: Path
) -> None:
    data = f"sim:{both_runs[3].run_dir}"  # the run's history log (it has one)
    options = ["--models", "fm", "--seeds", "1", "--epochs", "1", "--embed-dim", "4"]
    options += ["--max-events", "800", "--no-baselines", "--quiet"]
    _cli(["offline", "--data", data, *options, "--out", str(tmp_path / "cli")])
    result = adasim.offline(
        data,
        ["fm"],
        seeds=1,
        max_epochs=1,
        embed_dim=4,
        max_events=800,
        baselines=False,
        out=tmp_path / "api",
    )

    def timeless(text: str) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(text)
        for record in payload["rows"] + payload["runs"]:
            record.pop("train_seconds")
        return payload

    written = (tmp_path / "cli" / "offline.json").read_text()
    assert timeless(result.to_json()) == timeless(written)
    assert (tmp_path / "api" / "offline.md").read_text() == (
        tmp_path / "cli" / "offline.md"
    ).read_text()
    assert result.data.endswith("history")
    assert result.to_pandas()["model"].tolist() == ["fm"]


# ------------------------------------------------------------------ ope, diagnose


def test_ope_equals_the_command(tmp_path: Path) -> None:
    # A random control (fast, exact propensities) and a learning treatment (OPE replays it).
    text = TINY_TWO_ARM_WORLD.replace(
        '[arms.control]\nframework = "none"\nn_candidates = 10\nhidden_dims = [8]\n'
        "train_every_minutes = 360\n",
        '[arms.control]\nagent = "random"\n',
    )
    assert 'agent = "random"' in text
    config_path = tmp_path / "tiny_ope.toml"
    config_path.write_text(text, encoding="utf-8")
    run_dir = adasim.run(config_path, tmp_path / "run").run_dir
    _cli(["ope", str(run_dir), "--bootstrap", "5", "--seed", "2", "--no-progress"])
    written = _files(run_dir, "ope/ope.json", "ope/ope.md", "summary.json")
    result = adasim.ope(run_dir, n_bootstrap_samples=5, rng=2)
    assert _files(run_dir, *written) == written
    frame = result.to_pandas()
    assert len(frame) == len(json.loads(written["ope/ope.json"])["comparison"])
    assert {"estimator", "estimate", "truth"} <= set(frame.columns)
    assert "ope" in json.loads(written["summary.json"])["extra_sections"]


def test_diagnose_equals_the_command(tmp_path: Path) -> None:
    sets = [arg for s in TINY_DIAGNOSE for arg in ("--set", s)]
    options = ["--seeds", "1", "--epochs", "1", "--curve", "1,2", "--no-count-fields"]
    _cli(["diagnose", str(QUICK), "--out", str(tmp_path / "cli"), *sets, *options, "--no-progress"])
    config = adasim.load_config(QUICK, TINY_DIAGNOSE)
    result = adasim.diagnose(
        config, tmp_path / "api", seeds=1, max_epochs=1, curve=(1, 2), count_fields=False
    )
    md = "diagnostics.md"
    assert (tmp_path / "api" / md).read_text() == (tmp_path / "cli" / md).read_text()
    by_cli = json.loads((tmp_path / "cli" / "diagnostics.json").read_text())
    frame = result.to_pandas()
    assert frame.set_index("metric").loc["auc_id", "value"] == pytest.approx(by_cli["auc_id"])
    assert set(frame.columns) == {"metric", "value", "sd"}
    assert list(result.curve_to_pandas()["train_days"]) == [1, 2]
    assert "without the count fields" in (tmp_path / "api" / md).read_text()


# ------------------------------------------------------------------ bad input

Call = Callable[[Path, Path], Any]

BAD_INPUT: list[tuple[str, Call, str]] = [
    ("run-config-type", lambda c, o: adasim.run(42, o), r"config == 42, must be a Config"),
    ("run-config-missing", lambda c, o: adasim.run(o / "x.toml", o), r"x\.toml', must be a Config or the path .*no such file"),
    ("run-keep", lambda c, o: adasim.run(c, o, keep_checkpoints="x"), r"^keep_checkpoints == 'x', must be one of 'latest', 'all'$"),
    ("run-workers", lambda c, o: adasim.run(c, o, workers=-1), r"^workers == -1, must be >= 0$"),
    ("run-fresh", lambda c, o: adasim.run(c, o, fresh="yes"), r"^fresh == 'yes', must be True or False$"),
    ("run-no-arms", lambda c, o: adasim.run(replace(load_config(c), arms={}), o), r"^config\.arms == \{\}, must name the control"),
    ("run-out", lambda c, o: adasim.run(c, 3), r"^out == 3, must be a path"),
    ("load-overrides", lambda c, o: adasim.load_config(c, "seed=3"), r"^overrides == 'seed=3', must be a list or tuple of strings"),
    ("load-seed", lambda c, o: adasim.load_config(c, seed="3"), r"^seed == '3', must be an integer >= 0$"),
    ("load-bad-key", lambda c, o: adasim.load_config(c, ["world.n_users=-3"]), r"^world\.n_users == -3, must be > 0"),
    ("report-missing", lambda c, o: adasim.report(o / "nothing"), r"nothing', must be a folder with events/ and users\.parquet"),
    ("report-alpha", lambda c, o: adasim.report(c.parent, alpha=1.5), r"^alpha == 1\.5, must be in \(0, 1\)"),
    ("report-segments", lambda c, o: adasim.report(c.parent, segments="all"), r"^segments == 'all', must be a list or tuple"),
    ("report-days", lambda c, o: adasim.report(c.parent, start_day=3), r"^start_day == 3 and end_day == None: give both"),
    ("ope-bootstrap", lambda c, o: adasim.ope(c.parent, n_bootstrap_samples=0), r"^n_bootstrap_samples == 0, must be >= 1$"),
    ("ope-rng", lambda c, o: adasim.ope(c.parent, rng=-1), r"^rng == -1, must be >= 0$"),
    ("ope-not-a-run", lambda c, o: adasim.ope(c.parent), r"must be a finished run folder of adasim\.run: no config\.toml$"),
    ("offline-data", lambda c, o: adasim.offline("csv:x"), r"^data == 'csv:x', must be sim:RUN_DIR or movielens:PATH$"),
    ("offline-sim-only", lambda c, o: adasim.offline("movielens:/x", split="time"), r"^split, arms, max_events and log apply to sim: data only$"),
    ("offline-log", lambda c, o: adasim.offline("sim:/x", log="past"), r"^log == 'past', must be one of None, 'history', 'experiment'$"),
    ("offline-seeds", lambda c, o: adasim.offline("sim:/x", seeds=0), r"^seeds == 0, must be >= 1$"),
    ("offline-models", lambda c, o: adasim.offline("sim:/x", "fm"), r"^models == 'fm', must be a list or tuple of strings"),
    ("offline-unknown", lambda c, o: adasim.offline("sim:/x", ["gbdt"]), r"^models contains 'gbdt', must be among"),
    ("sweep-grid", lambda c, o: adasim.sweep(c, o, grid="a.b=1,2"), r"^grid == 'a\.b=1,2', must be a list or tuple of strings"),
    ("sweep-axis", lambda c, o: adasim.sweep(c, o, grid=["a.b"]), r"must look like section\.key=v1"),
    ("sweep-backend", lambda c, o: adasim.sweep(c, o, backend="dask"), r"^backend == 'dask', must be one of 'serial', 'process', 'ray'$"),
    ("sweep-replicates", lambda c, o: adasim.sweep(c, o, replicates=0), r"^replicates == 0, must be >= 1$"),
    ("diagnose-curve", lambda c, o: adasim.diagnose(c, o, curve=(0, 2)), r"^curve == \(0, 2\), must be a list or tuple of distinct"),
    ("diagnose-curve-rule", lambda c, o: adasim.diagnose(c, o, curve=(500,)), r"^curve == \(500,\) needs a log of 502 history days .*: world\.history_days == 502, must be in"),
    ("diagnose-epochs", lambda c, o: adasim.diagnose(c, o, max_epochs=0), r"^max_epochs == 0, must be >= 1$"),
    ("diagnose-history", lambda c, o: adasim.diagnose(adasim.load_config(c, ["world.history_days=0"]), o), r"^world\.history_days == 0, must be >= 1"),
]  # fmt: skip
"""(case, call(config path, output folder), message): each raises before any work."""


@pytest.mark.parametrize(
    ("call", "message"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_is_a_one_line_config_error_before_any_work(
    call: Call, message: str, cheap_toml: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as caught:
        call(cheap_toml, out)
    text = str(caught.value)
    assert "\n" not in text
    assert re.search(message, text), text
    assert not out.exists()  # nothing was written: the check came first


# ------------------------------------------------------------------ the package


def test_import_adasim_is_light() -> None:
    code = (
        "import sys, adasim; print(adasim.__all__); "
        "print(sorted(m for m in ('torch', 'agents', 'adaf2m2', 'analysis') if m in sys.modules))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    names, heavy = done.stdout.splitlines()
    assert ast.literal_eval(names) == adasim.__all__
    assert heavy == "[]"


def test_every_public_function_is_documented_with_an_example() -> None:
    for name in adasim.__all__:
        doc = getattr(adasim, name).__doc__ or ""
        assert "Example:" in doc, name
        assert ">>> import adasim" in doc, name
