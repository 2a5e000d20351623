"""The experiment engine end to end on a tiny world: determinism, resume, A/A twin, workers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adasim.jobs.run_analysis import analyse_run
from adasim.registry import build_agent
from simulator.config import Config, load_config
from simulator.engine.experiment import RunLayout, run_experiment, run_variant
from tests.adasim.tiny_worlds import TEST_SCALE

TINY = (
    """
name = "tiny"
seed = 11

[world]
n_users = 600
n_items = 300
new_users_per_day = 20.0
new_items_per_day = 5.0
"""
    + TEST_SCALE
    + """
[engine]
progress = false

[experiment]
pre_days = 1
days = 2
workers = 1

[arms.control]
share = 0.4
framework = "none"
n_candidates = 10
hidden_dims = [16]
train_every_minutes = 240

[arms.treatment]
share = 0.4
framework = "{treatment}"
n_candidates = 10
hidden_dims = [16]
train_every_minutes = 240

[arms.mask_only]
share = 0.2
framework = "mask_only"
n_candidates = 10
hidden_dims = [16]
train_every_minutes = 240
"""
)


def tiny_config(tmp_path: Path, treatment: str = "adaf2m2", *overrides: str) -> Config:
    path = tmp_path / f"tiny_{treatment}.toml"
    path.write_text(TINY.replace("{treatment}", treatment))
    return load_config(path, overrides)


def digest(root: Path) -> str:
    """Hash of every event and user file of a run (names and bytes)."""
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.parquet")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, RunLayout]:
    tmp = tmp_path_factory.mktemp("exp")
    config = tiny_config(tmp)
    return config, run_experiment(config, tmp / "run", build_agent, progress=False)


def test_layout_and_logs(finished: tuple[Config, RunLayout]) -> None:
    config, layout = finished
    for variant in ("ab", "twin_control", "twin_treatment"):
        assert (layout.events(variant) / "users.parquet").is_file()
        assert list((layout.events(variant) / "events").glob("part-*.parquet"))
    events = pd.read_parquet(layout.root / "events")
    # Pre-period all on control; the experiment has both arms.
    pre = events[events["day"] < config.experiment.pre_days]
    assert set(pre["arm"]) == {"control"}
    post = events[events["day"] >= config.experiment.pre_days]
    assert set(post["arm"]) == {"control", "treatment", "mask_only"}
    assert ((events["pscore"] > 0) & (events["pscore"] <= 1)).all()
    users = pd.read_parquet(layout.root / "users.parquet")
    served = post.drop_duplicates("user_id").merge(users, on="user_id", suffixes=("", "_u"))
    assert (served["arm"] == served["arm_u"]).all()  # events carry the user's assigned arm


def test_same_seed_same_bytes_and_workers_do_not_matter(
    finished: tuple[Config, RunLayout], tmp_path: Path
) -> None:
    _, layout = finished
    again = run_experiment(
        tiny_config(tmp_path, "adaf2m2", "experiment.workers=3"),
        tmp_path / "b",
        build_agent,
        progress=False,
    )
    assert digest(again.root) == digest(layout.root)


def test_other_seed_differs(finished: tuple[Config, RunLayout], tmp_path: Path) -> None:
    _, layout = finished
    other = run_experiment(
        tiny_config(tmp_path, "adaf2m2", "seed=12", "experiment.twin=false"),
        tmp_path / "c",
        build_agent,
        progress=False,
    )
    a = pd.read_parquet(layout.root / "events")
    b = pd.read_parquet(other.root / "events")
    assert len(a) != len(b) or not a["item_id"].equals(b["item_id"])


def test_resume_after_kill_gives_identical_summary(
    finished: tuple[Config, RunLayout], tmp_path: Path
) -> None:
    config, layout = finished
    root = tmp_path / "resumed"
    # Simulate a kill: the pre-period and the fork finished, the A/B variant ran its days
    # (every checkpoint kept, as a run that is still going has them).
    run_experiment(
        tiny_config(tmp_path, "adaf2m2", "experiment.twin=false"),
        root,
        build_agent,
        progress=False,
        keep_checkpoints="all",
    )
    ab = RunLayout(root)
    (ab.done("ab")).unlink()
    last = sorted(ab.checkpoints("ab").glob("day-*.pkl"))[-1]
    last.unlink()  # the last day is lost; its log segment is left as a partial leftover
    run_variant(config, ab, "ab", progress=False)
    for variant in ("twin_control", "twin_treatment"):
        run_variant(config, ab, variant, progress=False)
    assert digest(ab.root) == digest(layout.root)
    s1 = analyse_run(config, layout.root).summary
    s2 = analyse_run(config, ab.root).summary
    a, b = json.loads(s1.read_text()), json.loads(s2.read_text())
    for d in (a, b):
        d.pop("source", None)
        d.pop("run_dir", None)
    assert a["lift_table"] == b["lift_table"]
    assert a["other_arms_lift_tables"] == b["other_arms_lift_tables"]
    # Twin truth and the learners' loss trajectory too (no day logged twice after resume).
    assert json.dumps(a["extra_sections"], sort_keys=True) == json.dumps(
        b["extra_sections"], sort_keys=True
    )
    assert len(a["other_arms_lift_tables"]["mask_only"]) == 18


@pytest.mark.parametrize("design", ["own_arm", "pooled", "snapshot", "weighted"])
def test_aa_twin_is_exactly_zero(tmp_path: Path, design: str) -> None:
    # Identical arms: under every training-data design the truth is exactly zero.
    config = tiny_config(tmp_path, "none", f"experiment.training_data={design!r}")
    layout = run_experiment(config, tmp_path / "aa", build_agent, progress=False)
    c = pd.read_parquet(layout.events("twin_control") / "events")
    t = pd.read_parquet(layout.events("twin_treatment") / "events")
    pd.testing.assert_frame_equal(c.drop(columns="arm"), t.drop(columns="arm"))
    result = analyse_run(config, layout.root)
    summary = json.loads(result.summary.read_text())
    control = {
        (r["metric"], r["segment"]): r["control"]
        for r in summary["extra_sections"]["twin_truth"]["rows"]
    }
    for cell in summary["lift_table"]:
        # Exactly 0 wherever a relative lift exists; none where the twins' control mean
        # is 0 (a cohort of the tiny world that never disliked a song).
        if control[cell["metric"], cell["segment"]] == 0.0:
            assert cell["true_rel_effect_size"] is None, cell
        else:
            assert cell["true_rel_effect_size"] == 0.0, cell
        # The A/B estimate: a number, or none where the A/B control's mean is 0; never
        # an infinity or a NaN written as a number.
        rel = cell["rel_effect_size"]
        assert rel is None or np.isfinite(rel), cell


def test_options_added_later_leave_the_agent_seed_alone_at_their_defaults() -> None:
    from dataclasses import replace

    from simulator.config import Config
    from simulator.engine.experiment import agent_seed, seed_text
    from simulator.experiment_config import (
        SEED_NEUTRAL_BY_FRAMEWORK,
        SEED_NEUTRAL_VALUES,
        ArmConfig,
    )

    arm = replace(ArmConfig(), **SEED_NEUTRAL_VALUES)  # the agent before these options
    # Exactly the repr the digest was taken over before these options existed (the arm is
    # bare, so the framework options are out whatever their values).
    expected = repr(arm)
    for name in [*SEED_NEUTRAL_VALUES, *SEED_NEUTRAL_BY_FRAMEWORK]:
        expected = expected.replace(f", {name}={getattr(arm, name)!r}", "")
    assert seed_text(arm) == expected
    assert all(f"{name}=" not in expected for name in SEED_NEUTRAL_VALUES)
    # Today's defaults differ from the neutral values: they are in the digest.
    assert "explore_share=0.2" in seed_text(ArmConfig())
    moved = replace(arm, explore_share=0.3)
    assert "explore_share=0.3" in seed_text(moved)
    config = Config(name="seed", seed=1)
    assert agent_seed(config, arm).entropy == agent_seed(config, replace(arm, share=0.3)).entropy
    assert agent_seed(config, moved).entropy != agent_seed(config, arm).entropy


def test_framework_options_enter_the_seed_only_where_they_change_the_agent() -> None:
    from dataclasses import replace

    from simulator.engine.experiment import seed_text
    from simulator.experiment_config import ArmConfig

    bare = ArmConfig(framework="none")
    # A bare arm: routing and reduction change nothing, so its seed ignores them.
    for routing in ("joint", "strict", "straight_through"):
        assert "routing=" not in seed_text(replace(bare, routing=routing))  # type: ignore[arg-type]
    assert "aux_reduction=" not in seed_text(bare)
    # AdaF²M²: the earlier agent (strict, mean) keeps its seed; the paper's (joint, sum) not.
    earlier = ArmConfig(framework="adaf2m2", routing="strict", aux_reduction="mean")
    assert "routing=" not in seed_text(earlier)
    assert "aux_reduction=" not in seed_text(earlier)
    paper = ArmConfig(framework="adaf2m2")
    assert "routing='joint'" in seed_text(paper)
    assert "aux_reduction='sum'" in seed_text(paper)
    # adapter_only trained jointly before the option existed; mask_only has no adapter.
    assert "routing=" not in seed_text(ArmConfig(framework="adapter_only"))
    assert "routing=" not in seed_text(ArmConfig(framework="mask_only"))
    assert "aux_reduction='sum'" in seed_text(ArmConfig(framework="mask_only"))


def test_strict_routing_needs_a_mask() -> None:
    from simulator.errors import ConfigError
    from simulator.experiment_config import ArmConfig

    with pytest.raises(ConfigError, match=r"^routing == 'strict', needs a feature mask"):
        ArmConfig(framework="adapter_only", routing="strict")
    with pytest.raises(
        ConfigError,
        match=r"^routing == 'strict', needs a feature mask: retrieval_framework 'adapter_only' "
        r"would leave the retrieval embeddings without gradient",
    ):
        ArmConfig(framework="adaf2m2", retrieval_framework="adapter_only", routing="strict")
    ArmConfig(retrieval_framework="adaf2m2", routing="strict")  # a mask: allowed


def test_retrieval_framework_options_enter_the_seed_where_they_change_the_agent() -> None:
    from dataclasses import replace

    from simulator.engine.experiment import seed_text
    from simulator.experiment_config import ArmConfig

    bare = ArmConfig()
    # At "none" the option is left out: every existing agent keeps its seed.
    assert "retrieval_framework" not in seed_text(bare)
    armed = replace(bare, retrieval_framework="adaf2m2")
    assert "retrieval_framework='adaf2m2'" in seed_text(armed)
    # A bare ranker ignores routing and reduction, but AdaF²M² on retrieval uses them.
    assert "routing='joint'" in seed_text(armed)
    assert "aux_reduction='sum'" in seed_text(armed)
    assert seed_text(armed) != seed_text(replace(armed, routing="strict"))
    # The options the retrieval framework does not use stay out (as for the ranker).
    masked = replace(bare, retrieval_framework="mask_only")
    assert "routing=" not in seed_text(masked)
    assert "aux_reduction='sum'" in seed_text(masked)
    assert "routing=" not in seed_text(replace(bare, retrieval_framework="ssl_mask"))
