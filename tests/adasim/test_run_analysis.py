"""The report options of a run, overrides on top of them, and what counts as a finished run.

The end-to-end check (run, delete the report, rebuild, compare) is in
``tests/simulator/test_report_command.py``; these need no experiment.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adasim.jobs.run_analysis import experiment_window, finished_run_config, run_report_config
from analysis.report_overrides import ReportOverrides
from simulator.config import load_config, write_config
from simulator.engine.experiment import RunLayout
from simulator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_run_report_config_is_the_runs() -> None:
    config = load_config(ROOT / "configs/ablation.toml")
    cfg = run_report_config(config)
    assert cfg.title == "ablation: treatment vs control"
    assert (cfg.ab.control, cfg.ab.treatment, cfg.ab.alpha) == ("control", "treatment", 0.05)
    assert cfg.ab.expected_share == pytest.approx(0.5)  # 0.2 each: the pair splits evenly
    assert cfg.window == experiment_window(config)


def test_overrides_name_the_pair_and_keep_the_rest() -> None:
    config = load_config(ROOT / "configs/ablation.toml")
    cfg = run_report_config(config, ReportOverrides(treatment="mask_only", alpha=0.01))
    assert cfg.title == "ablation: mask_only vs control"
    assert (cfg.ab.treatment, cfg.ab.alpha, cfg.ab.cuped) == ("mask_only", 0.01, True)
    assert cfg.window == experiment_window(config)


def test_an_unknown_arm_is_a_config_error() -> None:
    config = load_config(ROOT / "configs/quick.toml")
    with pytest.raises(ConfigError, match=r"control == 'ctrl', must be one of the run's arms"):
        run_report_config(config, ReportOverrides(control="ctrl"))


def test_finished_run_needs_arms_and_every_variant_done(tmp_path: Path) -> None:
    assert finished_run_config(tmp_path) is None  # no config.toml: a plain log
    config = load_config(ROOT / "configs/quick.toml")
    write_config(config, tmp_path / "config.toml")
    layout = RunLayout(tmp_path)
    for variant in ("ab", "twin_control"):
        layout.checkpoints(variant).mkdir(parents=True)
        layout.done(variant).write_text("{}")
    assert finished_run_config(tmp_path) is None  # a twin is not done: not finished
    layout.checkpoints("twin_treatment").mkdir(parents=True)
    layout.done("twin_treatment").write_text("{}")
    got = finished_run_config(tmp_path)
    assert got is not None
    assert got.seed == config.seed
    world_only = tmp_path / "world"
    world_only.mkdir()
    shutil.copytree(layout.root / "checkpoints", world_only / "checkpoints")
    write_config(load_config(ROOT / "configs/world.toml"), world_only / "config.toml")
    assert finished_run_config(world_only) is None  # no arms: `adasim simulate`'s folder
