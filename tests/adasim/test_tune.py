"""Tests for adasim.jobs.tune, adasim.jobs.tuned_run and ``adasim tune`` / ``run --tuned``."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from adasim.cli import main
from adasim.jobs.tune import (
    TuneBudget,
    TuneSplit,
    load_tune_data,
    plan_tune,
    run_tune,
    select_hyperparameters,
)
from adasim.jobs.tuned_run import FORMAT, tuning_note, tuning_warning
from simulator.config import Config, load_config
from simulator.errors import ConfigError
from simulator.experiment_config import ArmConfig
from tests.adasim.tiny_worlds import TINY_TWO_ARM_WORLD


def tiny_config_text(history_days: int = 3) -> str:
    """The tiny two-arm world with a 3-day history (1 training, 1 validation, 1 test day)
    and AdaF²M² on the treatment."""
    return TINY_TWO_ARM_WORLD.replace("history_days = 2", f"history_days = {history_days}").replace(
        '[arms.treatment]\nframework = "none"', '[arms.treatment]\nframework = "adaf2m2"'
    )


@pytest.fixture
def tiny_toml(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_config_text(), encoding="utf-8")
    return path


def _strict_json(path: Path) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{path} holds {name}: not strict JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# ------------------------------------------------------------------ (a) the selection


def planted(optima: dict[str, tuple[float, int]]) -> Any:
    """A toy scorer whose AUC peaks at each arm's planted ``(lr, embed_dim)``."""

    def score(name: str, arm: ArmConfig) -> float:
        lr, dim = optima[name]
        return 0.8 - (math.log10(arm.lr) - math.log10(lr)) ** 2 - 1e-4 * (arm.embed_dim - dim) ** 2

    return score


def test_planted_optimum_is_found_for_each_arm() -> None:
    budget = TuneBudget(embed_dims=(8, 16, 32, 64))
    arms = {"control": ArmConfig(), "treatment": ArmConfig(framework="adaf2m2")}
    optima = {"control": (0.02, 16), "treatment": (0.001, 64)}
    seen: list[tuple[str, float, int]] = []

    def score(name: str, arm: ArmConfig) -> float:
        seen.append((name, arm.lr, arm.embed_dim))
        return float(planted(optima)(name, arm))

    result = select_hyperparameters(arms, dict.fromkeys(arms, budget), score)
    assert [(r.arm, r.lr, r.embed_dim) for r in result] == [
        ("control", 0.02, 16),
        ("treatment", 0.001, 64),
    ]
    assert result[1].framework == "adaf2m2"
    # Every grid point of every arm was scored once, and is recorded.
    assert len(seen) == len(set(seen)) == 2 * 5 * 4
    assert all(len(r.points) == 20 for r in result)
    assert result[0].valid_auc == pytest.approx(0.8)


def test_ties_go_to_the_smaller_embed_dim_then_lr_and_nan_never_wins() -> None:
    budget = TuneBudget(lrs=(0.1, 0.01), embed_dims=(16, 8))
    arms = {"a": ArmConfig()}
    flat = select_hyperparameters(arms, {"a": budget}, lambda n, a: 0.7)[0]
    assert (flat.lr, flat.embed_dim) == (0.01, 8)
    # NaN (undefined AUC) never wins, even where a number would lose.
    nan_best = select_hyperparameters(
        arms, {"a": budget}, lambda n, a: math.nan if a.lr == 0.01 else 0.6
    )[0]
    assert (nan_best.lr, nan_best.embed_dim) == (0.1, 8)
    with pytest.raises(ConfigError, match=r"arms\.a: every grid point's validation AUC"):
        select_hyperparameters(arms, {"a": budget}, lambda n, a: math.nan)


# ------------------------------------------------------------------ (b) equal budgets


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_epochs": 5}, r"arms.treatment: max_epochs == 5, must equal arms.control's 3"),
        ({"train_rows": 10}, r"train_rows == 10, must equal arms.control's 400000"),
        ({"lrs": (0.01,)}, r"lrs == \(0.01,\), must equal arms.control's"),
        ({"embed_dims": (8, 16, 32)}, r"embed_dims == \(8, 16, 32\)"),
        ({"batch_size": 1024}, r"batch_size == 1024"),
    ],
)
def test_budgets_that_differ_between_arms_are_refused(change: dict[str, Any], message: str) -> None:
    arms = {"control": ArmConfig(), "treatment": ArmConfig(framework="adaf2m2")}
    budgets = {"control": TuneBudget(), "treatment": replace(TuneBudget(), **change)}
    calls: list[str] = []

    def score(name: str, arm: ArmConfig) -> float:
        calls.append(name)
        return 0.5

    with pytest.raises(ConfigError, match=message) as err:
        select_hyperparameters(arms, budgets, score)
    assert "every arm is tuned with the same grid and budget" in str(err.value)
    assert "\n" not in str(err.value)
    assert calls == []  # refused before any training


def test_every_arm_needs_a_budget() -> None:
    with pytest.raises(ConfigError, match=r"budgets name arms \['a'\], must name"):
        select_hyperparameters(
            {"a": ArmConfig(), "b": ArmConfig()}, {"a": TuneBudget()}, lambda n, a: 0.5
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lrs": ()}, "lrs == (), must be distinct"),
        ({"lrs": (0.1, 0.1)}, "lrs == (0.1, 0.1), must be distinct"),
        ({"lrs": (0.0,)}, "every learning rate must be > 0"),
        ({"embed_dims": (0,)}, "every size must be >= 1"),
        ({"max_epochs": 0}, "max_epochs == 0, must be >= 1"),
        ({"train_rows": 0}, "train_rows == 0, must be >= 1"),
    ],
)
def test_bad_budgets(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        TuneBudget(**kwargs)
    assert message in str(err.value)


# ------------------------------------------------------------------ (c) the test days


def _poison_test_days(history: Path, test_from: int) -> int:
    """Give every test-day row an item id beyond the catalogue; return their number.

    A loader that encodes any of them fails (an index beyond the item table), and a model
    that saw one would show it: the test asserts neither happens.
    """
    n = 0
    for f in sorted((history / "events").glob("part-*.parquet")):
        table = pq.read_table(f)
        minute = np.asarray(table.column("minute"))
        item = np.asarray(table.column("item_id")).copy()
        test = minute >= test_from
        n += int(test.sum())
        item[test] = 10**6
        i = table.column_names.index("item_id")
        table = table.set_column(i, "item_id", pa_array(item, table.schema.field(i).type))
        pq.write_table(table, f)
    return n


def pa_array(values: np.ndarray, typ: Any) -> Any:
    import pyarrow as pa

    return pa.array(values, type=typ)


def test_the_test_days_are_never_read(
    tmp_path: Path, tiny_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agents.datasets.sim as sim
    import agents.training as training
    from adasim.jobs.diagnose import simulate_log
    from simulator.engine.experiment import build_world

    config = load_config(tiny_toml)
    split = TuneSplit.of(config)
    history = simulate_log(config, tmp_path / "log" / "history", build_world(config))
    minute = np.concatenate(
        [
            np.asarray(pq.read_table(f, columns=["minute"])["minute"])
            for f in sorted((history / "events").glob("part-*.parquet"))
        ]
    )
    n_before = int((minute < split.test_from).sum())
    assert _poison_test_days(history, split.test_from) > 0

    loaded: list[Any] = []
    real_load = sim.load_run

    def spy_load(root: Any, cfg: Any = None) -> Any:
        data = real_load(root, cfg)
        loaded.append(data)
        return data

    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real_fit = training.fit

    def spy_fit(model: Any, train: Any, valid: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((train.item_ids, valid.item_ids))
        return real_fit(model, train, valid, *args, **kwargs)

    monkeypatch.setattr(sim, "load_run", spy_load)
    monkeypatch.setattr(training, "fit", spy_fit)
    budget = TuneBudget(lrs=(0.01,), embed_dims=(8,), max_epochs=1)
    plan = plan_tune(config, tmp_path / "out", budget, history=history)
    result = run_tune(plan, progress=False)

    (data,) = loaded
    assert len(data.test) == 0
    assert len(data.train) + len(data.valid) == n_before  # every row before the test days
    assert len(seen) == 2  # one grid point per arm
    for train_items, valid_items in seen:  # no poisoned row reached a model
        assert train_items.max() < 10**6
        assert valid_items.max() < 10**6
    assert result.data["test_from_minute"] == split.test_from
    # Directly: the loader of the tuner builds no test sample.
    direct = load_tune_data(history, config, budget)
    assert len(direct.train) == len(data.train)
    assert len(direct.valid) == len(data.valid)


def test_the_split_needs_three_history_days() -> None:
    config = load_config_text(tiny_config_text(history_days=2))
    with pytest.raises(ConfigError, match=r"world\.history_days == 2, must be >= 3"):
        TuneSplit.of(config)
    split = TuneSplit.of(replace(config, world=replace(config.world, history_days=28)))
    assert (split.valid_days, split.valid_from, split.test_from) == (6, -12 * 1440, -6 * 1440)


def load_config_text(text: str) -> Config:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)


# ------------------------------------------------------------------ (e) the command


def test_tune_command_end_to_end(
    tmp_path: Path, tiny_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tune"
    argv = ["tune", str(tiny_toml), "--out", str(out), "--lr", "0.001,0.01", "--embed-dim", "8"]
    assert main([*argv, "--epochs", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "control (dcnv2, framework none)" in printed
    assert "treatment (dcnv2, framework adaf2m2)" in printed
    assert printed.count("* |") == 2
    assert "| 0.001 |" in printed
    tuned = _strict_json(out / "tuned.json")
    assert tuned["format"] == FORMAT
    assert tuned["seed"] == 5
    assert tuned["config"] == "tiny_ope"
    assert tuned["budget"]["lrs"] == [0.001, 0.01]
    assert tuned["budget"]["max_epochs"] == 2
    assert tuned["data"]["history_days"] == 3
    assert tuned["data"]["test_days"] == 1
    for name in ("control", "treatment"):
        arm = tuned["arms"][name]
        assert [(p["lr"], p["embed_dim"]) for p in arm["grid"]] == [(0.001, 8), (0.01, 8)]
        best = max(arm["grid"], key=lambda p: p["valid_auc"])
        assert (arm["lr"], arm["embed_dim"]) == (best["lr"], best["embed_dim"])
        assert all(0.5 < p["valid_auc"] < 1 and 1 <= p["n_epochs"] <= 2 for p in arm["grid"])
    assert (out / "history" / "done.json").is_file()
    assert (out / "config.toml").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", "0.01,x"], "--lr == '0.01,x', must be a comma list of distinct learning"),
        (["--lr", "0.01,0.01"], "--lr == '0.01,0.01'"),
        (["--embed-dim", "8,0"], "--embed-dim == '8,0', must be a comma list"),
        (["--epochs", "0"], "--epochs == 0, must be >= 1"),
        (["--arms", "control,nope"], "--arms names 'nope', which the config has not"),
        (["--arms", "control,"], "--arms == 'control,', must be a comma list"),
        (["--set", "world.history_days=2"], "world.history_days == 2, must be >= 3"),
        (["--history", "/nonexistent"], "--history /nonexistent is not a finished history"),
    ],
)
def test_tune_bad_input_is_one_line_before_any_work(
    tmp_path: Path,
    tiny_toml: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "tune"
    assert main(["tune", str(tiny_toml), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "\n" not in err
    assert not (out / "history").exists()


def test_arms_without_anything_to_tune_are_skipped(tmp_path: Path, tiny_toml: Path) -> None:
    text = tiny_config_text().replace(
        '[arms.control]\nframework = "none"', '[arms.control]\nagent = "popular"'
    )
    config = load_config_text(text)
    plan = plan_tune(config, tmp_path / "out", TuneBudget())
    assert list(plan.arms) == ["treatment"]
    assert "nothing to tune" in plan.skipped["control"]
    with pytest.raises(ConfigError, match="--arms names 'control': agent 'popular'"):
        plan_tune(config, tmp_path / "out2", TuneBudget(), arms=["control"])


# ------------------------------------------------------------------ (d) run --tuned


SHORT_RUN = ["--set", "experiment.days=1", "--set", "world.n_users=150", "--no-progress"]
"""A one-day experiment of a smaller world: what --tuned changes is in config.toml."""


def write_tuned(path: Path, arms: dict[str, dict[str, Any]]) -> Path:
    """A tuned.json as adasim tune writes it, for the arms given (lr, embed_dim, budget)."""
    budget = TuneBudget(lrs=(0.001, 0.01), embed_dims=(8,)).to_dict()
    data = {"history": "x", "history_days": 3, "n_train": 100, "n_valid": 50}
    entries = {
        name: {
            "ranking_model": "dcnv2",
            "framework": "none",
            "lr": v["lr"],
            "embed_dim": v["embed_dim"],
            "valid_auc": 0.7,
            "budget": {**budget, **v.get("budget", {})},
            "data": dict(data),
            "grid": [],
        }
        for name, v in arms.items()
    }
    doc = {"format": FORMAT, "config": "tiny_ope", "seed": 5, "budget": budget, "data": data}
    path.write_text(json.dumps({**doc, "arms": entries}), encoding="utf-8")
    return path


def test_run_applies_the_tuned_values(
    tmp_path: Path, tiny_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomllib

    tuned = write_tuned(
        tmp_path / "tuned.json",
        {"control": {"lr": 0.01, "embed_dim": 16}, "treatment": {"lr": 0.001, "embed_dim": 4}},
    )
    out = tmp_path / "run"
    assert main(["run", str(tiny_toml), "--out", str(out), "--tuned", str(tuned), *SHORT_RUN]) == 0
    assert "warning" not in capsys.readouterr().err
    arms = tomllib.loads((out / "config.toml").read_text(encoding="utf-8"))["arms"]
    assert (arms["control"]["lr"], arms["control"]["embed_dim"]) == (0.01, 16)
    assert (arms["treatment"]["lr"], arms["treatment"]["embed_dim"]) == (0.001, 4)
    copy = _strict_json(out / "tuned.json")
    assert copy["warnings"] == []
    assert copy["source"] == str(tuned)
    note = tuning_note(out)
    assert note is not None
    assert "tuned with one procedure" in note
    assert "control lr 0.01, embed_dim 16; treatment lr 0.001, embed_dim 4" in note
    assert f"## Tuning\n\n{note}" in (out / "report.md").read_text()


def test_run_with_mixed_budgets_warns_and_says_so(
    tmp_path: Path, tiny_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tuned = write_tuned(tmp_path / "tuned.json", {"treatment": {"lr": 0.01, "embed_dim": 8}})
    out = tmp_path / "run"
    assert main(["run", str(tiny_toml), "--out", str(out), "--tuned", str(tuned), *SHORT_RUN]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert err == [
        "adasim run: warning: arm treatment was tuned (tuned.json), arm control was not: "
        "the arms were tuned with different budgets"
    ]
    assert _strict_json(out / "tuned.json")["warnings"] == [err[0].split("warning: ")[1]]
    note = tuning_note(out)
    assert note is not None
    assert "different budgets" in note
    assert f"## Tuning\n\n{note}" in (out / "report.md").read_text()  # the report says so
    (tmp_path / "empty").mkdir()
    assert tuning_note(tmp_path / "empty") is None  # a folder without a tuning has no note


def test_merged_files_with_different_budgets_are_named() -> None:
    config = load_config_text(tiny_config_text())
    both = {"lr": 0.01, "embed_dim": 8}
    doc = json.loads(
        json.dumps(
            {
                "arms": {
                    "control": {**both, "budget": {"max_epochs": 3}, "data": {"history": "a"}},
                    "treatment": {**both, "budget": {"max_epochs": 5}, "data": {"history": "b"}},
                }
            }
        )
    )
    assert tuning_warning(doc, config) == (
        "arms control and treatment were tuned with different budgets (budget.max_epochs: 3 "
        "for control, 5 for treatment)"
    )
    doc["arms"]["treatment"]["budget"]["max_epochs"] = 3
    assert tuning_warning(doc, config) is None  # the history's folder is not the data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"control": {"lr": 0.01, "embed_dim": 8}, "ctrl": {"lr": 0.01, "embed_dim": 8}},
            "names arm 'ctrl', which the config has not (its arms: control, treatment)",
        ),
        ({"control": {"lr": -1, "embed_dim": 8}}, "arms.control.lr == -1, must be a number > 0"),
        ({"control": {"lr": 0.01, "embed_dim": 8.5}}, "arms.control.embed_dim == 8.5"),
    ],
)
def test_run_with_a_bad_tuned_file_is_one_line_before_any_work(
    tmp_path: Path,
    tiny_toml: Path,
    capsys: pytest.CaptureFixture[str],
    content: dict[str, dict[str, Any]],
    message: str,
) -> None:
    tuned = write_tuned(tmp_path / "tuned.json", content)
    out = tmp_path / "run"
    assert main(["run", str(tiny_toml), "--out", str(out), "--tuned", str(tuned)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "\n" not in err
    assert not out.exists()
    (tmp_path / "other.json").write_text('{"format": "x"}', encoding="utf-8")
    assert (
        main(["run", str(tiny_toml), "--out", str(out), "--tuned", str(tmp_path / "other.json")])
        == 2
    )
    assert "format == 'x', must be 'adasim-tuned/1'" in capsys.readouterr().err


def test_the_note_says_when_the_run_did_not_use_the_tuned_values(
    tmp_path: Path, tiny_toml: Path
) -> None:
    config = load_config(tiny_toml)
    write_tuned(tmp_path / "tuned.json", {"control": {"lr": 0.01, "embed_dim": 8}})
    (tmp_path / "config.toml").write_text(config.to_toml(), encoding="utf-8")
    note = tuning_note(tmp_path)
    assert note is not None
    lr = config.arms["control"].lr  # the config's own, not the tuned 0.01
    assert f"does not match this run's config.toml (arms.control.lr is {lr}, tuned 0.01)" in note


def test_the_api_checks_the_tuned_file_before_any_work(tmp_path: Path, tiny_toml: Path) -> None:
    import adasim

    tuned = write_tuned(tmp_path / "tuned.json", {"ctrl": {"lr": 0.01, "embed_dim": 8}})
    with pytest.raises(ConfigError, match=r"tuned .* names arm 'ctrl', which the config has not"):
        adasim.run(tiny_toml, tmp_path / "run", tuned=tuned)
    assert not (tmp_path / "run").exists()
