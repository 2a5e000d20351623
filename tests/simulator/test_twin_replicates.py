"""Twin pairs with other agent seeds on the same world (``experiment.twin_replicates``).

Pair 0 is the twin the run always had, byte for byte; pairs ``1 .. R - 1`` rebuild the
agents from their own seeds and rerun the pre-period and both twins on the same world,
so their truths differ only by how the models happened to train.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adasim.jobs.run_analysis import analyse_run
from adasim.registry import build_agent
from analysis.fingerprint import event_files
from simulator.config import Config
from simulator.engine.experiment import RunLayout, agent_seed, run_experiment
from simulator.errors import ConfigError
from simulator.experiment_config import ExperimentConfig
from tests.simulator.test_experiment import digest, tiny_config

TWINS = ("twin_control", "twin_treatment")


def _events(layout: RunLayout, variant: str) -> pd.DataFrame:
    return pd.read_parquet(layout.events(variant) / "events")


def test_twin_replicates_must_be_positive_and_need_the_twin() -> None:
    with pytest.raises(ConfigError, match=r"^twin_replicates == 0, must be >= 1$"):
        ExperimentConfig(twin_replicates=0)
    with pytest.raises(ConfigError, match=r"twin_replicates == 2, must be 1 when twin is false"):
        ExperimentConfig(twin=False, twin_replicates=2)


def test_replicate_seeds_are_new_but_one_per_arm_config(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, "none")
    control, treatment = config.arms["control"], config.arms["treatment"]
    first = agent_seed(config, control)
    assert agent_seed(config, control, 0).entropy == first.entropy
    assert agent_seed(config, control, 0).spawn_key == first.spawn_key
    states = {r: agent_seed(config, control, r).generate_state(4).tolist() for r in range(3)}
    assert len({tuple(s) for s in states.values()}) == 3
    # Identical arms still get the same agent within a pair (an A/A truth stays 0).
    for r in range(3):
        assert agent_seed(config, treatment, r).generate_state(4).tolist() == states[r]


def test_replicate_layout_keeps_its_files_apart(tmp_path: Path) -> None:
    root = RunLayout(tmp_path)
    two = root.of_replicate(2)
    assert two.events("twin_control") == tmp_path / "twin" / "replicate-2" / "control"
    assert two.events("ab") == tmp_path / "twin" / "replicate-2" / "pre"
    assert two.fork() == tmp_path / "checkpoints" / "replicate-2" / "fork.pkl"
    assert two.done("twin_treatment").parent == (
        tmp_path / "checkpoints" / "replicate-2" / "twin_treatment"
    )
    assert two.history() == root.history()
    assert root.of_replicate(0) == root


def _run(
    tmp_path: Path, name: str, *overrides: str, keep: str = "latest"
) -> tuple[Config, RunLayout]:
    config = tiny_config(tmp_path, "none", *overrides)
    return config, run_experiment(
        config,
        tmp_path / name,
        build_agent,
        progress=False,
        keep_checkpoints=keep,  # type: ignore[arg-type]
    )


AA = tuple[Config, RunLayout, Config, RunLayout]


@pytest.fixture(scope="module")
def aa(tmp_path_factory: pytest.TempPathFactory) -> AA:
    """An A/A run with one pair and the same run with three."""
    tmp = tmp_path_factory.mktemp("replicates")
    # Every checkpoint kept, so that a copy can play a run killed midway.
    three = _run(tmp, "three", "experiment.twin_replicates=3", keep="all")
    return (*_run(tmp, "one"), *three)


def test_pair_zero_and_the_ab_run_are_the_run_without_replicates(
    aa: AA,
) -> None:
    _, one, _, three = aa
    for variant in ("ab", *TWINS):
        pd.testing.assert_frame_equal(_events(one, variant), _events(three, variant))


def test_every_pair_of_an_aa_run_has_a_true_effect_of_exactly_zero(
    aa: AA,
) -> None:
    *_, three = aa
    for r in range(3):
        pair = three.of_replicate(r)
        c, t = (_events(pair, v).drop(columns="arm") for v in TWINS)
        pd.testing.assert_frame_equal(c, t)


def test_other_pairs_train_other_models_on_the_same_world(
    aa: AA,
) -> None:
    *_, three = aa
    logs = [_events(three.of_replicate(r), "twin_control") for r in range(3)]
    users = [
        pd.read_parquet(three.of_replicate(r).events("twin_control") / "users.parquet")
        for r in range(3)
    ]
    for r in (1, 2):
        pd.testing.assert_frame_equal(users[0], users[r])  # the same population
        a, b = logs[0], logs[r]
        assert len(a) != len(b) or not np.array_equal(a["item_id"], b["item_id"])
    # The run's fingerprint covers every pair's logs.
    files = {p.relative_to(three.root).parts[:3] for p in event_files(three.root)}
    assert ("twin", "replicate-2", "treatment") in files


def test_the_report_gives_the_spread_over_seeds_and_the_gap(
    aa: AA,
) -> None:
    _, _, config, three = aa
    summary = json.loads(analyse_run(config, three.root).summary.read_text())
    rows = summary["extra_sections"]["twin_replicates"]["rows"]
    assert rows
    assert all(r["n_seeds"] == 3 for r in rows)
    known = [r for r in rows if r["mean"] is not None]
    assert known
    assert all(r["sd"] == 0.0 and not r["single_twin_unreliable"] for r in known)
    gap = summary["gap"]
    assert gap
    assert all(g["training_sd"] == 0.0 for g in gap)
    cells = {(c["metric"], c["segment"]): c for c in summary["lift_table"]}
    for g in gap:
        cell = cells[g["metric"], g["segment"]]
        assert g["gap"] == pytest.approx(cell["rel_effect_size"] - cell["true_rel_effect_size"])


def test_one_pair_reports_training_randomness_as_unmeasured(
    aa: AA,
) -> None:
    config, one, _, _ = aa
    result = analyse_run(config, one.root)
    summary = json.loads(result.summary.read_text())
    assert "twin_replicates >= 3" in summary["extra_sections"]["twin_replicates"]["text"]
    assert all(g["training_sd"] is None for g in summary["gap"])
    assert "Training randomness is unmeasured" in result.report_md.read_text()


def test_a_run_killed_in_a_replicate_ends_as_an_uninterrupted_one(aa: AA, tmp_path: Path) -> None:
    *_, config, three = aa
    run = RunLayout(tmp_path / "killed")
    shutil.copytree(three.root, run.root)
    # Killed during pair 2's pre-period (its fork lost, its twins not started) and during
    # pair 1's treatment twin (its last day's checkpoint and the done marker lost).
    two, one = run.of_replicate(2), run.of_replicate(1)
    two.fork().unlink()
    for v in TWINS:
        shutil.rmtree(two.checkpoints(v))
        shutil.rmtree(two.events(v))
    one.done("twin_treatment").unlink()
    sorted(one.checkpoints("twin_treatment").glob("day-*.pkl"))[-1].unlink()
    run_experiment(config, run.root, build_agent, progress=False)
    assert digest(run.root / "twin") == digest(three.root / "twin")
    assert digest(run.root / "events") == digest(three.root / "events")
    assert all(run.of_replicate(r).done(v).is_file() for r in range(3) for v in TWINS)
