"""The A/B run's training-data designs (``experiment.training_data``) on a tiny world.

Each design changes what the A/B run's learners train on during the experiment days and
nothing else: the pre-period, the fork and the twin worlds are the same under every design.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from adasim.registry import build_agent
from simulator.config import Config
from simulator.engine.checkpoint import load_checkpoint
from simulator.engine.experiment import RunLayout, build_world, run_pre_period, run_variant
from simulator.errors import ConfigError
from simulator.experiment_config import ExperimentConfig
from tests.simulator.test_experiment import tiny_config


def _ab_run(tmp_path: Path, design: str, treatment: str) -> tuple[Config, RunLayout]:
    config = tiny_config(tmp_path, treatment, f"experiment.training_data={design!r}")
    layout = RunLayout(tmp_path / f"{design}_{treatment}")
    run_pre_period(config, layout, build_agent, progress=False)
    run_variant(config, layout, "ab", progress=False)
    return config, layout


def _agents(config: Config, path: Path) -> dict[str, object]:
    _, extra = load_checkpoint(path, build_world(config))
    agents: dict[str, object] = extra["agents"]
    return agents


def _parameters(agent: object) -> list[torch.Tensor]:
    ranker: torch.nn.Module = agent.ranker  # type: ignore[attr-defined]
    retrieval: torch.nn.Module = agent.retrieval_model  # type: ignore[attr-defined]
    return [p.detach().clone() for m in (ranker, retrieval) for p in m.state_dict().values()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _end(config: Config, layout: RunLayout) -> dict[str, object]:
    return _agents(config, layout.checkpoints("ab") / f"day-{config.experiment.n_days:04d}.pkl")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Config, RunLayout]]:
    root = tmp_path_factory.mktemp("designs")
    # Identical control and treatment arms (an A/A test between them), a third arm apart.
    return {design: _ab_run(root, design, "none") for design in ("own_arm", "pooled", "snapshot")}


def test_pooled_learners_see_the_same_rows(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    config, layout = runs["pooled"]
    agents = _end(config, layout)
    counters = [agents[a].counters for a in ("control", "treatment", "mask_only")]  # type: ignore[attr-defined]
    for other in counters[1:]:
        np.testing.assert_array_equal(counters[0].user_, other.user_)
        np.testing.assert_array_equal(counters[0].item_, other.item_)
    # Two identical arms that see the same rows in the same order end identical.
    assert _same(_parameters(agents["control"]), _parameters(agents["treatment"]))


def test_own_arm_learners_see_their_own_rows(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    config, layout = runs["own_arm"]
    agents = _end(config, layout)
    control, treatment = agents["control"], agents["treatment"]
    assert not np.array_equal(control.counters.user_, treatment.counters.user_)  # type: ignore[attr-defined]
    # The same arms, the same seeds, other users' feedback: other models (so the pooled
    # test above could fail).
    assert not _same(_parameters(control), _parameters(treatment))


def test_snapshot_changes_no_model_parameter(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    config, layout = runs["snapshot"]
    fork = _agents(config, layout.fork())
    end = _end(config, layout)
    for arm in ("control", "treatment", "mask_only"):
        assert _same(_parameters(fork[arm]), _parameters(end[arm])), arm
    # The own-arm design trains from the same fork, so the check can fail.
    config, layout = runs["own_arm"]
    trained = _end(config, layout)
    assert not _same(_parameters(fork["treatment"]), _parameters(trained["treatment"]))


def test_designs_share_the_pre_period(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    forks = {d: _agents(c, layout.fork()) for d, (c, layout) in runs.items()}
    for design in ("pooled", "snapshot"):
        for arm in ("control", "treatment", "mask_only"):
            assert _same(_parameters(forks["own_arm"][arm]), _parameters(forks[design][arm]))


def test_unknown_design_is_refused(tmp_path: Path) -> None:
    rule = r"training_data == 'mixed', must be one of \('own_arm', 'pooled', 'snapshot'\)"
    with pytest.raises(ConfigError, match=rf"^{rule}$"):
        ExperimentConfig(training_data="mixed")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"experiment.training_data"):
        tiny_config(tmp_path, "none", "experiment.training_data='mixed'")


@pytest.mark.parametrize("design", ["own_arm", "pooled", "snapshot"])
def test_twins_train_on_their_own_traffic_under_every_design(tmp_path: Path, design: str) -> None:
    from simulator.engine.experiment import VariantRunner

    config = tiny_config(tmp_path, "none", f"experiment.training_data={design!r}")
    agents = {name: object() for name in config.arms}
    for variant in ("twin_control", "twin_treatment"):
        runner = VariantRunner(config, RunLayout(tmp_path), variant, None, progress=False)  # type: ignore[arg-type]
        assert runner.policies(agents) == tuple(agents.values())  # type: ignore[arg-type]
        assert all(runner.trains_on(day) for day in range(config.experiment.n_days))
    ab = VariantRunner(config, RunLayout(tmp_path), "ab", None, progress=False)  # type: ignore[arg-type]
    pre = config.experiment.pre_days
    assert ab.trains_on(pre - 1)
    assert ab.trains_on(pre) == (design != "snapshot")
    assert (ab.policies(agents) == tuple(agents.values())) == (design != "pooled")  # type: ignore[arg-type]
