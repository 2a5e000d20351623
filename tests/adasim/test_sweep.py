"""``adasim sweep``: grid parsing, seeds, the plan, backends, failures and resume.

The end-to-end tests use a tiny world with torch-free arms (random vs popular, twin on)
so a run costs a few CPU seconds; the learning agents' determinism across processes is
tested in test_experiment.py, and once more through the sweep in the slow suite.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adasim.cli import main
from adasim.jobs.sweep import (
    FLOAT_COLUMNS,
    RESULT_COLUMNS,
    SweepError,
    SweepSpec,
    collect_table,
    parse_grid,
    pending_runs,
    plan_runs,
    prepare_dir,
    replicate_seeds,
    result_path,
    rows_from_summary,
)
from adasim.jobs.sweep_backends import SweepResult, run_sweep
from simulator.config import Config, load_config
from simulator.errors import ConfigError
from tests.adasim.tiny_worlds import random_vs_popular

CHEAP = random_vs_popular("cheap", 5)

# A world of 2 users is a valid config but too small to analyse: those runs fail at run
# time (a bad config value is refused before any run, test_run_sweep_rejects).
GRID = ("world.n_users=300,2",)
REPLICATES = 2


def cheap_config(tmp_path: Path, *overrides: str) -> Config:
    path = tmp_path / "cheap.toml"
    path.write_text(CHEAP)
    return load_config(path, overrides)


# ------------------------------------------------------------------ grid, seeds, plan


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("arms.treatment.k=1,2,3", (1, 2, 3)),
        ("world.behavior.noise_skip_rate=0.0, 0.1,0.2", (0.0, 0.1, 0.2)),
        ("a.b=1,0.5", (1.0, 0.5)),  # ints and floats: one float column
        ("arms.treatment.framework=none,adaf2m2", ("none", "adaf2m2")),
        ("a.b=1,x", ("1", "x")),  # mixed kinds: strings
        ("experiment.twin=true,false", (True, False)),
    ],
)
def test_parse_grid_values(text: str, values: tuple[object, ...]) -> None:
    axis = parse_grid(text)
    assert axis.values == values
    assert [type(v) for v in axis.values] == [type(v) for v in values]
    assert axis.key == text.partition("=")[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("noise_skip_rate", r"must look like section.key=v1,v2"),
        ("=1,2", r"must look like section.key=v1,v2"),
        ("a..b=1", r"must look like section.key=v1,v2"),
        ("a.b=", r"must list at least one value"),
        ("a.b=1,,2", r"must list at least one value, none empty"),
        ("a.b=1,1", r"must not repeat a value"),
    ],
)
def test_parse_grid_rejects(text: str, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        parse_grid(text)


def test_replicate_seeds_follow_seed_sequence_spawn() -> None:
    seeds = replicate_seeds(123, 4)
    # The definition, written out independently.
    expected = [
        int(np.random.SeedSequence(123).spawn(4)[r].generate_state(1, np.uint64)[0]) % 2**63
        for r in range(4)
    ]
    assert list(seeds) == expected
    assert len(set(seeds)) == 4
    assert replicate_seeds(123, 6)[:4] == seeds  # more replicates keep the old seeds
    assert replicate_seeds(124, 4) != seeds
    with pytest.raises(SweepError, match=r"replicates == 0, must be >= 1"):
        replicate_seeds(1, 0)


def test_plan_is_cross_product_with_common_seeds(tmp_path: Path) -> None:
    config = cheap_config(tmp_path)
    grid = [parse_grid("world.behavior.noise_skip_rate=0.0,0.1,0.2"), parse_grid("a.k=1,2")]
    runs = plan_runs(config, grid, 3)
    assert len(runs) == 3 * 2 * 3
    assert [r.index for r in runs] == list(range(18))
    assert len({r.run_id for r in runs}) == 18
    assert {r.cell for r in runs} == {
        (("world.behavior.noise_skip_rate", a), ("a.k", b)) for a in (0.0, 0.1, 0.2) for b in (1, 2)
    }
    seeds = replicate_seeds(config.seed, 3)
    for r in runs:
        assert r.seed == seeds[r.replicate]  # replicate r: the same seed in every cell
        assert f"seed={r.seed}" in r.overrides
        assert "experiment.workers=1" in r.overrides
    assert runs[4].run_id == "world.behavior.noise_skip_rate=0.0__a.k=2__r1"
    assert plan_runs(config, grid, 3) == runs  # deterministic
    with pytest.raises(SweepError, match=r"must not repeat a key"):
        plan_runs(config, [grid[1], grid[1]], 1)


def test_rows_from_summary_joins_effects_and_marks_coverage() -> None:
    summary = {
        "effects": [
            {
                "metric": "likes",
                "segment": "all",
                "pvalue": 0.01,
                "effect_size": 0.5,
                "n_control": 10,
                "n_treatment": 12,
            },
        ],
        "lift_table": [
            {
                "metric": "likes",
                "segment": "all",
                "rel_effect_size": 0.1,
                "rel_effect_size_ci_lower": 0.05,
                "rel_effect_size_ci_upper": 0.2,
                "significant": True,
                "true_rel_effect_size": 0.21,
            },
            {
                "metric": "likes",
                "segment": "new",
                "rel_effect_size": 0.1,
                "rel_effect_size_ci_lower": -0.05,
                "rel_effect_size_ci_upper": 0.2,
                "significant": False,
                "true_rel_effect_size": 0.0,
            },
            {
                "metric": "likes",
                "segment": "old",
                "rel_effect_size": 0.1,
                "rel_effect_size_ci_lower": -0.05,
                "rel_effect_size_ci_upper": 0.2,
                "significant": False,
                "true_rel_effect_size": None,
            },
            {
                "metric": "comments",
                "segment": "new",
                "rel_effect_size": None,
                "rel_effect_size_ci_lower": None,
                "rel_effect_size_ci_upper": None,
                "significant": False,
                "true_rel_effect_size": 0.3,
            },
        ],
    }
    rows = rows_from_summary(summary)
    assert rows.pop()["covered"] is None  # undefined interval (control mean 0)
    assert [list(r) for r in rows] == [list(RESULT_COLUMNS)] * 3
    assert rows[0]["pvalue"] == 0.01
    assert rows[0]["n_treatment"] == 12
    assert [r["covered"] for r in rows] == [False, True, None]
    assert rows[1]["pvalue"] is None  # no effect row for that cell


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"backend": "dask"}, SweepError, r"backend == 'dask', must be one of serial"),
        ({"workers": -1}, SweepError, r"workers == -1, must be >= 1, or 0 for the cores"),
        ({"address": "ray://x:1"}, SweepError, r"only the ray backend joins a cluster"),
        ({"replicates": 0}, SweepError, r"replicates == 0, must be >= 1"),
        ({"grid": ["a.b"]}, SweepError, r"must look like section.key=v1"),
        (
            {"grid": ["world.noise_skip_rate=0.1,0.2"]},
            SweepError,
            r"--grid cell world.noise_skip_rate=0\.1: world.noise_skip_rate is an unknown key",
        ),
        ({"grid": ["seed.x=1"]}, SweepError, r"--grid cell seed.x=1: .*is a value, not a table"),
        (
            # The last value is bad: refused before the first cells run, not after.
            {"grid": ["world.behavior.noise_skip_rate=0.0,0.1,1.5"], "replicates": 3},
            SweepError,
            r"^--grid cell world\.behavior\.noise_skip_rate=1\.5: "
            r"world\.behavior\.noise_skip_rate == 1\.5, must be in \[0, 1\) \(in --grid\)$",
        ),
        (
            {"grid": ["arms.control.agent=random,mypkg.agents:make"]},
            SweepError,
            r"arms\.control\.agent == 'mypkg\.agents:make', module 'mypkg\.agents' cannot be "
            r"imported",
        ),
        (
            # Each value is fine alone; one combination breaks a rule across keys.
            {"grid": ["arms.control.share=0.5,0.7", "arms.treatment.share=0.5,0.3"]},
            SweepError,
            r"--grid cell arms\.control\.share=0\.5, arms\.treatment\.share=0\.3: "
            r"arms\.\*\.share sum to 0\.8, must sum to 1",
        ),
        (
            {"grid": ["world.n_items=150,5"], "config": ["arms.control.agent=two_stage"]},
            SweepError,
            r"world\.n_items=5: arms\.control\.n_candidates == 20, must be <= world\.n_items",
        ),
    ],
)
def test_run_sweep_rejects_before_any_work(
    tmp_path: Path,
    kwargs: dict[str, object],
    exc: type[Exception],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adasim.jobs.sweep_backends as backends

    def never(*args: object, **kw: object) -> None:
        raise AssertionError("a run started before the whole plan was checked")

    monkeypatch.setattr(backends, "execute_run", never)
    args: dict[str, object] = {"grid": [], "replicates": 1, "progress": False}
    args.update(kwargs)
    overrides = args.pop("config", [])
    config = cheap_config(tmp_path, *overrides)  # type: ignore[misc]
    with pytest.raises(exc, match=message):
        run_sweep(config, sweep_dir=tmp_path / "s", **args)  # type: ignore[arg-type]
    assert not (tmp_path / "s").exists()  # nothing written


def test_sweep_needs_arms(tmp_path: Path) -> None:
    config = Config(name="worldonly", seed=1)
    with pytest.raises(ConfigError, match=r"no \[arms\]"):
        SweepSpec.build(config, [], 1)


def test_ray_missing_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(SweepError, match=r"needs the optional extra ray.*pip install"):
        run_sweep(cheap_config(tmp_path), [], 1, tmp_path / "s", backend="ray", progress=False)
    assert not (tmp_path / "s").exists()  # refused before the sweep directory is made


def test_workers_default_to_the_cores_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adasim.jobs.sweep_backends as backends

    seen: list[int] = []
    monkeypatch.setattr(backends, "available_cores", lambda: 5)
    monkeypatch.setattr(backends, "run_process", lambda jobs, done, workers: seen.append(workers))
    run_sweep(cheap_config(tmp_path), [], 1, tmp_path / "s", backend="process", progress=False)
    assert seen == [5]
    parser = __import__("adasim.cli", fromlist=["build_parser"]).build_parser()
    args = parser.parse_args(["sweep", "x.toml"])
    assert args.workers == 0  # the command passes 0 on: the cores available


def test_aa_only_when_every_cell_has_identical_arms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "aa.toml"
    cfg.write_text(CHEAP.replace('agent = "popular"', 'agent = "random"'))
    cases = [
        ([], True),  # identical arms
        (["--grid", "world.n_users=300,400"], True),  # the world varies, the arms do not
        (["--grid", "arms.treatment.agent=random,popular"], False),  # the arms differ
    ]
    for i, (grid, aa) in enumerate(cases):
        out = tmp_path / f"s{i}"
        argv = ["sweep", str(cfg), *grid, "--out", str(out), "--report-only", "--no-progress"]
        assert main(argv) == 0
        report = (out / "report.md").read_text()
        assert ("## False-positive rate (A/A)" in report) is aa, (grid, report)
        assert ("## Rejection rate" in report) is not aa
        assert json.loads((out / "report.json").read_text())["aa"] is aa
    capsys.readouterr()


def test_table_columns_have_fixed_types_without_twin_or_results(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    config = cheap_config(tmp_path, "experiment.twin=false")
    ran = run_sweep(config, [], 1, tmp_path / "no_twin", progress=False)
    assert ran.n_failed == 0
    listed = run_sweep(config, ["world.n_users=300,301"], 1, tmp_path / "none", execute=False)
    for result in (ran, listed):
        schema = pq.read_schema(result.paths["parquet"])
        assert str(schema.field("true_rel_effect_size").type) == "double"
        for name in (*FLOAT_COLUMNS, "metric", "segment", "n_control", "covered"):
            assert str(schema.field(name).type) != "null", name
    assert ran.table["true_rel_effect_size"].isna().all()  # no twin: no truth


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, SweepResult]:
    tmp = tmp_path_factory.mktemp("sweep")
    config = cheap_config(tmp)
    return config, run_sweep(config, GRID, REPLICATES, tmp / "serial", progress=False)


def test_table_shape_and_failures(serial: tuple[Config, SweepResult]) -> None:
    _, result = serial
    table = result.table
    per_run = table.drop_duplicates("run_id").set_index("run_id")
    assert len(per_run) == 4
    assert result.n_failed == 2
    assert len(result.executed) == 4
    ok = per_run[per_run["world.n_users"] == 300]
    bad = per_run[per_run["world.n_users"] == 2]
    assert (ok["status"] == "ok").all()
    assert (ok["error"] == "").all()
    assert (bad["status"] == "failed").all()
    assert bad["error"].str.startswith("AnalysisError: ").all()
    rows = table[table["status"] == "ok"]
    assert len(rows) == 2 * 18  # 6 metrics x 3 segments per finished run
    assert set(rows["segment"]) == {"new", "old", "all"}
    assert rows["true_rel_effect_size"].notna().all()  # the twin ran
    expected = (rows["rel_effect_size_ci_lower"] <= rows["true_rel_effect_size"]) & (
        rows["true_rel_effect_size"] <= rows["rel_effect_size_ci_upper"]
    )
    assert (rows["covered"] == expected).all()
    assert sorted(set(rows["seed"])) == sorted(replicate_seeds(5, REPLICATES))
    # The two replicates differ (their own seeds); both write a parseable summary.
    a, b = (g["rel_effect_size"].to_numpy() for _, g in rows.groupby("replicate"))
    assert not np.array_equal(a, b)
    for name in ("parquet", "json", "markdown"):
        assert result.paths[name].is_file()
    back = pd.read_parquet(result.paths["parquet"])
    pd.testing.assert_frame_equal(back, table)
    assert len(json.loads(result.paths["json"].read_text())) == len(table)
    assert "wall" not in " ".join(table.columns)


def test_process_backend_gives_identical_table(
    serial: tuple[Config, SweepResult], tmp_path: Path
) -> None:
    config, expected = serial
    got = run_sweep(
        config, GRID, REPLICATES, tmp_path / "proc", backend="process", workers=2, progress=False
    )
    pd.testing.assert_frame_equal(got.table, expected.table)


def test_resume_reruns_only_missing(serial: tuple[Config, SweepResult], tmp_path: Path) -> None:
    config, first = serial
    root = tmp_path / "resume"
    shutil.copytree(first.sweep_dir, root)
    ok_ids = first.table.loc[first.table["status"] == "ok", "run_id"].unique()
    lost = str(ok_ids[1])
    result_path(root, lost).unlink()  # as if killed before this run finished
    mtimes = {p.name: p.stat().st_mtime_ns for p in (root / "results").glob("*.json")}
    spec = SweepSpec.build(config, GRID, REPLICATES)
    assert [r.run_id for r in pending_runs(spec, root)] == [lost]
    assert collect_table(spec, root).query("run_id == @lost")["status"].tolist() == ["missing"]
    time.sleep(0.01)
    again = run_sweep(config, GRID, REPLICATES, root, progress=False)
    assert again.executed == (lost,)  # only the missing run executed
    for p in (root / "results").glob("*.json"):
        if p.stem != lost:
            assert p.stat().st_mtime_ns == mtimes[p.name]  # the others were not rewritten
    pd.testing.assert_frame_equal(again.table, first.table)
    result_path(root, lost).unlink()
    listed = run_sweep(config, GRID, REPLICATES, root, progress=False, execute=False)
    assert listed.executed == ()
    assert listed.table.query("run_id == @lost")["status"].tolist() == ["missing"]
    again = run_sweep(config, GRID, REPLICATES, root, progress=False)
    assert again.executed == (lost,)
    # Nothing missing: nothing runs; --retry-failed reruns exactly the failed runs.
    assert run_sweep(config, GRID, REPLICATES, root, progress=False).executed == ()
    retried = run_sweep(config, GRID, REPLICATES, root, retry_failed=True, progress=False)
    failed = first.table.loc[first.table["status"] == "failed", "run_id"].unique()
    assert retried.executed == tuple(failed)


def test_crashed_runs_are_rerun(serial: tuple[Config, SweepResult], tmp_path: Path) -> None:
    config, first = serial
    root = tmp_path / "crash"
    shutil.copytree(first.sweep_dir, root)
    spec = SweepSpec.build(config, GRID, REPLICATES)
    run = spec.runs[0]
    path = result_path(root, run.run_id)
    path.write_text(
        json.dumps({"run_id": run.run_id, "status": "crashed", "error": "x", "rows": []})
    )
    assert [r.run_id for r in pending_runs(spec, root)] == [run.run_id]


def test_other_sweep_in_same_dir_is_refused(
    serial: tuple[Config, SweepResult], tmp_path: Path
) -> None:
    config, first = serial
    with pytest.raises(SweepError, match=r"holds a different sweep"):
        run_sweep(config, GRID, REPLICATES + 1, first.sweep_dir, progress=False)


def test_cli_resumes_and_reports(
    serial: tuple[Config, SweepResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config, first = serial
    root = tmp_path / "cli"
    shutil.copytree(first.sweep_dir, root)
    cfg = tmp_path / "cheap_cli.toml"
    cfg.write_text(CHEAP)
    argv = [
        "sweep",
        str(cfg),
        "--grid",
        GRID[0],
        "--replicates",
        str(REPLICATES),
        "--out",
        str(root),
        "--no-progress",
    ]
    status = main(argv)
    out = capsys.readouterr().out
    assert status == 1  # two runs failed
    assert "4 runs (0 executed now, 2 failed)" in out
    assert (root / "report.md").is_file()
    report = json.loads((root / "report.json").read_text())
    assert report["n_runs"] == 4
    assert report["aa"] is False
    assert {r["n"] for r in report["coverage"]} == {2}


HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (optional extra: pip install ray)")
def test_ray_backend_gives_identical_table(
    serial: tuple[Config, SweepResult], tmp_path: Path
) -> None:
    config, expected = serial
    got = run_sweep(
        config, GRID, REPLICATES, tmp_path / "ray", backend="ray", workers=2, progress=False
    )
    pd.testing.assert_frame_equal(got.table, expected.table)


LEARNING = CHEAP.replace(
    '[arms.control]\nagent = "random"\n\n[arms.treatment]\nagent = "popular"\n',
    '[arms.control]\nframework = "none"\nn_candidates = 10\nhidden_dims = [16]\n'
    'train_every_minutes = 240\n\n[arms.treatment]\nframework = "adaf2m2"\n'
    "n_candidates = 10\nhidden_dims = [16]\ntrain_every_minutes = 240\n",
)


@pytest.mark.slow
def test_learning_agents_identical_on_serial_process_and_ray(tmp_path: Path) -> None:
    path = tmp_path / "learning.toml"
    path.write_text(LEARNING)
    config = load_config(path)
    assert config.arms["treatment"].framework == "adaf2m2"
    grid = ["arms.treatment.k=1,2"]
    serial = run_sweep(config, grid, 1, tmp_path / "s", progress=False)
    assert serial.n_failed == 0
    proc = run_sweep(config, grid, 1, tmp_path / "p", backend="process", progress=False)
    pd.testing.assert_frame_equal(proc.table, serial.table)
    if HAS_RAY:
        ray = run_sweep(config, grid, 1, tmp_path / "r", backend="ray", progress=False)
        pd.testing.assert_frame_equal(ray.table, serial.table)


def test_resume_tolerates_new_config_fields_only(
    serial: tuple[Config, SweepResult], tmp_path: Path
) -> None:
    config, first = serial
    spec = SweepSpec.build(config, GRID, REPLICATES)
    root = tmp_path / "fields"
    shutil.copytree(first.sweep_dir, root)
    manifest = json.loads((root / "sweep.json").read_text())
    base = manifest["base_config"]
    # A field the code gained since the sweep started (absent from the old manifest): fine.
    manifest["base_config"] = base.replace("taste_scale = 1.5\n", "")
    (root / "sweep.json").write_text(json.dumps(manifest))
    prepare_dir(spec, root)
    # Keys that change no result (the machine's worker count): fine too.
    manifest["base_config"] = base.replace("workers = 1\n", "workers = 3\n")
    assert manifest["base_config"] != base
    (root / "sweep.json").write_text(json.dumps(manifest))
    prepare_dir(spec, root)
    # A value that changed: refused, naming the key.
    manifest["base_config"] = base.replace("taste_scale = 1.5", "taste_scale = 2.5")
    (root / "sweep.json").write_text(json.dumps(manifest))
    with pytest.raises(SweepError, match=r"config keys changed: world.behavior.taste_scale"):
        prepare_dir(spec, root)
