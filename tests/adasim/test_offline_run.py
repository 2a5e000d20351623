"""Tests for adasim.jobs.offline_run and the ``adasim offline`` command."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from adasim.commands import offline as offline_cmd
from adasim.jobs.offline_run import check_names, popularity_scores, run_offline
from agents.datasets.sim import SimDataConfig, load_run
from agents.models.base import ModelConfig
from agents.training import TrainConfig
from simulator.errors import ConfigError

SMALL = ModelConfig(embed_dim=4, hidden_dims=(8,))
FAST = TrainConfig(max_epochs=2)


def test_run_offline_table_and_files(tiny_run: Path, tmp_path: Path) -> None:
    d = load_run(tiny_run, SimDataConfig(max_events=1500))
    r = run_offline(
        d, ["fm", "eulernet"], seeds=2, model_config=SMALL, train_config=FAST,
        out_dir=tmp_path, progress=False,
    )  # fmt: skip
    names = [(row.model, row.framework) for row in r.rows]
    assert names == [
        ("popularity", "none"),
        ("logistic", "none"),
        ("fm", "none"),
        ("eulernet", "none"),
    ]
    fm = r.row("fm")
    assert fm.n_seeds == 2
    assert 0.0 <= fm.auc_mean <= 1.0
    assert fm.auc_std >= 0.0
    assert fm.reference == "logistic/none"
    assert not math.isnan(fm.rela_impr)
    assert set(fm.cohort_auc) == {"new_users", "old_users", "head_items", "tail_items"}
    # the seeds are the runs' seeds, and the row's mean is their mean
    fm_runs = [x.metrics["all"].auc for x in r.runs if x.model == "fm"]
    assert fm.auc_mean == pytest.approx(float(np.mean(fm_runs)), abs=1e-15)
    payload = json.loads((tmp_path / "offline.json").read_text())
    assert len(payload["rows"]) == 4
    assert len(payload["runs"]) == 8
    md = (tmp_path / "offline.md").read_text()
    assert "| fm | none |" in md
    assert "UAUC" in md


def test_a_run_does_not_depend_on_the_other_models(tiny_run: Path) -> None:
    d = load_run(tiny_run, SimDataConfig(max_events=1200))
    kw = {"seeds": [3], "model_config": SMALL, "train_config": FAST, "progress": False}
    alone = run_offline(d, ["fm"], baselines=False, **kw)  # type: ignore[arg-type]
    together = run_offline(d, ["afn", "fm"], **kw)  # type: ignore[arg-type]
    assert alone.row("fm").auc_mean == together.row("fm").auc_mean


def test_popularity_scores_by_hand(tiny_run: Path) -> None:
    d = load_run(tiny_run, SimDataConfig(max_events=1200))
    s = popularity_scores(d, prior_strength=10.0)
    item = int(d.test.item_ids[0])
    y = d.train.label("finish")
    m = d.train.item_ids == item
    p0 = y.mean()
    assert s[0] == pytest.approx((y[m].sum() + 10 * p0) / (m.sum() + 10), rel=1e-6)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="adasim")
    offline_cmd.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_cli_writes_table(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(
        ["offline", "--data", f"sim:{tiny_run}", "--models", "fm", "--seeds", "1",
         "--epochs", "1", "--embed-dim", "4", "--max-events", "800", "--quiet",
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "| fm | none |" in out
    assert (tmp_path / "offline.md").exists()


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--data", "csv:x"], "must be sim:RUN_DIR or movielens:PATH"),
        (["--data", "sim:/nonexistent/run"], "does not exist"),
        (["--data", "movielens:/x", "--split", "time"], "apply to sim: data only"),
    ],
)
def test_cli_errors(argv: list[str], pattern: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["offline", *argv, "--quiet"])
    assert args.func(args) == 2
    assert pattern in capsys.readouterr().err


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("data was read or a model trained before the options were checked")


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--framework", "magic"], "--framework contains 'magic', must be among ('adaf2m2'"),
        (["--framework", "none,adaf2m2,magic"], "--framework contains 'magic'"),
        (["--framework", ","], "--framework == ',', must list at least one name"),
        (["--models", "fm,gbdt"], "--models contains 'gbdt', must be among ('fm'"),
        (["--seeds", "0"], "--seeds == 0, must be >= 1"),
        (["--epochs", "0"], "max_epochs == 0, must be >= 1"),
        (["--lr", "-1"], "lr == -1.0, must be > 0"),
        (["--max-events", "0"], "max_events == 0, must be >= 1 or None"),
        (["--history-len", "-1"], "--history-len == -1, must be >= 0"),
    ],
)
def test_cli_checks_every_option_before_reading_or_training(
    argv: list[str],
    pattern: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adasim.jobs.offline_run
    import agents.datasets

    for name in ("load_run", "load_movielens"):
        monkeypatch.setattr(agents.datasets, name, _never)
    monkeypatch.setattr(adasim.jobs.offline_run, "fit", _never)
    args = parse(["offline", "--data", "sim:runs/anything", *argv, "--quiet"])
    assert args.func(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert pattern in err, err


def test_run_offline_checks_names_before_training(
    tiny_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adasim.jobs.offline_run

    d = load_run(tiny_run, SimDataConfig(max_events=800))
    monkeypatch.setattr(adasim.jobs.offline_run, "fit", _never)
    with pytest.raises(ConfigError, match=r"frameworks contains 'magic', must be among"):
        run_offline(d, ["fm"], frameworks=("none", "magic"), seeds=1, progress=False)
    with pytest.raises(ConfigError, match=r"models is empty"):
        run_offline(d, [], seeds=1, progress=False)


def test_cli_rejects_unknown_model(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["offline", "--data", f"sim:{tiny_run}", "--models", "gbdt", "--quiet"])
    assert args.func(args) == 2
    assert "--models contains 'gbdt'" in capsys.readouterr().err


def test_framework_rows_compare_with_the_bare_model(tiny_run: Path) -> None:
    d = load_run(tiny_run)
    r = run_offline(
        d, ["fm"], frameworks=("none", "adaf2m2"), seeds=[0], model_config=SMALL,
        train_config=TrainConfig(max_epochs=2), baselines=False, progress=False,
    )  # fmt: skip
    row = r.row("fm", "adaf2m2")
    assert row.reference == "fm/none"
    bare = r.row("fm").auc_mean
    assert bare > 0.5
    assert row.rela_impr == pytest.approx((row.auc_mean - 0.5) / (bare - 0.5) - 1, abs=1e-12)


def test_framework_variants_are_checked_before_training() -> None:
    check_names(["fm"], ["none", "adaf2m2:strict", "mask_only:mean"])
    with pytest.raises(ConfigError, match=r"^frameworks contains 'mask_only:strict', 'strict' is"):
        check_names(["fm"], ["none", "mask_only:strict"])
