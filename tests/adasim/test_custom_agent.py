"""Your own recommender: ``agent = "package.module:factory"``, end to end through the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from adasim.cli import main
from adasim.registry import build_agent
from simulator.config import load_config
from simulator.conformance import check_recommender
from simulator.engine.experiment import agent_seed, build_world
from simulator.errors import ConfigError
from simulator.experiment_config import ArmConfig
from simulator.world.world import World, WorldView
from tests.adasim import custom_agents
from tests.adasim.tiny_worlds import random_vs_popular, write_tiny_two_arm_world

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "docs.examples.top_popular:make_agent"


def _config(tmp_path: Path, treatment: str, name: str = "custom") -> Path:
    text = random_vs_popular(name, 3, twin=False).replace(
        '[arms.treatment]\nagent = "popular"', f'[arms.treatment]\nagent = "{treatment}"'
    )
    assert treatment in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_two_arm_world(tmp_path_factory.mktemp("custom") / "tiny.toml")


@pytest.fixture(scope="module")
def world(tiny: Path) -> World:
    return build_world(load_config(tiny))


BAD_FACTORIES = [
    # (agent, pattern of the one-line message)
    (
        "tests.adasim.no_such_module:make",
        r"^arms\.treatment\.agent == 'tests\.adasim\.no_such_module:make', module "
        r"'tests\.adasim\.no_such_module' cannot be imported \(ModuleNotFoundError: .*\); it "
        r"must be importable \(is its folder on the Python path, PYTHONPATH\?\); see "
        r"docs/agents\.md$",
    ),
    (
        "tests.adasim.custom_agents:make_missing",
        r"^arms\.treatment\.agent == '.*:make_missing', module 'tests\.adasim\.custom_agents' "
        r"has no attribute 'make_missing'; see docs/agents\.md$",
    ),
    (
        "tests.adasim.custom_agents:NOT_CALLABLE",
        r"'NOT_CALLABLE' is a int, must be a callable factory",
    ),
    (
        "tests.adasim.custom_agents:make_nothing",
        r"^arms\.treatment\.agent == '.*:make_nothing', returned object, must return a "
        r"Recommender \(methods recommend\(requests, rng\) and observe\(feedback\)\); see "
        r"docs/agents\.md$",
    ),
]


@pytest.mark.parametrize(("agent", "message"), BAD_FACTORIES)
def test_a_bad_factory_is_one_config_error(world: World, agent: str, message: str) -> None:
    arm = ArmConfig(agent=agent)
    with pytest.raises(ConfigError, match=message):
        build_agent("treatment", arm, world, np.random.SeedSequence(0))


def test_a_factory_gets_the_observable_world_only(world: World) -> None:
    custom_agents.SEEN.clear()
    arm = ArmConfig(agent="tests.adasim.custom_agents:make_uniform")
    agent = build_agent("treatment", arm, world, np.random.SeedSequence(0))
    assert isinstance(agent, custom_agents.Uniform)
    assert [world.observable] == custom_agents.SEEN
    assert isinstance(custom_agents.SEEN[0], WorldView)  # never the World itself


def test_two_stage_conforms(tiny: Path, world: World) -> None:
    config = load_config(tiny)
    arm = config.arms["treatment"]
    agent = build_agent("treatment", arm, world, agent_seed(config, arm))
    report = check_recommender(agent, world.observable, n_requests=32, n_batches=2)
    assert report.passed, str(report)


def test_the_example_agent_conforms(world: World) -> None:
    agent = build_agent("treatment", ArmConfig(agent=EXAMPLE), world, np.random.SeedSequence(0))
    assert check_recommender(agent, world.observable).passed


def test_the_docs_show_the_example_as_it_is() -> None:
    doc = (ROOT / "docs" / "agents.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    source = (ROOT / "docs" / "examples" / "top_popular.py").read_text(encoding="utf-8")
    assert source in blocks, "docs/agents.md must show docs/examples/top_popular.py verbatim"


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "Traceback" not in err
    return err


def test_custom_treatment_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the example is importable from the repository root
    run = tmp_path / "run"
    assert main(["run", str(_config(tmp_path, EXAMPLE)), "--out", str(run), "--no-progress"]) == 0
    assert f'agent = "{EXAMPLE}"' in (run / "config.toml").read_text()  # recorded as given
    assert "treatment" in capsys.readouterr().out
    assert main(["report", str(run)]) == 0
    assert (run / "report.md").is_file()
    # The example offers serving snapshots and an action distribution: OPE works.
    assert main(["ope", str(run), "--bootstrap", "5", "--no-progress"]) == 0
    assert (run / "ope" / "ope.json").is_file()


def test_ope_refuses_an_agent_without_action_distribution_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = "tests.adasim.custom_agents:make_uniform"
    run = tmp_path / "run"
    assert (
        main(["run", str(_config(tmp_path, agent, "plain")), "--out", str(run), "--no-progress"])
        == 0
    )
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    import adasim.jobs.ope_run as ope_run

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("OPE read the logs before refusing")

    monkeypatch.setattr(ope_run, "load_events", never)
    assert main(["ope", str(run), "--bootstrap", "5", "--no-progress"]) == 2
    err = _one_line_error(capsys)
    assert re.search(
        rf"^adasim ope: error: arms\.treatment\.agent == '{re.escape(agent)}' offers no "
        r"action distribution \(the run has no serving snapshot of it\): OPE replays .*"
        r"docs/agents\.md\)$",
        err,
    ), err
    assert not (run / "ope").exists()


def test_ope_refuses_a_built_in_policy_treatment_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    path = tmp_path / "rp.toml"
    path.write_text(random_vs_popular("rp", 3, twin=False), encoding="utf-8")
    assert main(["run", str(path), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["ope", str(run), "--bootstrap", "5", "--no-progress"]) == 2
    assert "arms.treatment.agent == 'popular' offers no action distribution" in _one_line_error(
        capsys
    )
