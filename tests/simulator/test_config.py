"""Config loading: every invalid value is a ConfigError naming the key; round trips."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from simulator.config import Config, WorldConfig, load_config
from simulator.config_loader import apply_overrides, from_dict, parse_override, to_toml
from simulator.errors import ConfigError
from simulator.experiment_config import ArmConfig, ExperimentConfig

CONFIGS = sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.toml"))
BASE = 'name = "t"\nseed = 1\n'

INVALID: list[tuple[str, str]] = [
    # (TOML text after the base keys, regex the message must match)
    ("[world]\nn_users = -3", r"world\.n_users == -3, must be > 0 \(in .*bad\.toml\)"),
    ("[world]\nn_items = 0", r"world\.n_items == 0, must be > 0"),
    ("[world]\nn_users = true", r"world\.n_users == True, must be of type int, got bool"),
    ("[world]\nn_users = 1.5", r"world\.n_users == 1\.5, must be of type int"),
    ("[world]\nn_user = 10", r"world\.n_user is an unknown key"),
    (
        "[world.behavior]\nnoise_skip_rate = 1.5",
        r"world\.behavior\.noise_skip_rate == 1\.5, must be in \[0, 1\)",
    ),
    ("[world.behavior]\nnoise_skip_rate = -0.1", r"world\.behavior\.noise_skip_rate == -0\.1"),
    (
        "[world.behavior]\nmax_skip_fraction = 2.0",
        r"world\.behavior\.max_skip_fraction == 2\.0, must be in \[0, 1\]",
    ),
    (
        "[world.users]\ntaste_idiosyncratic_share = 1.2",
        r"world\.users\.taste_idiosyncratic_share == 1\.2",
    ),
    ("[world.users]\nn_regions = 0", r"world\.users\.n_regions == 0, must be >= 1"),
    (
        '[world.users]\nactivity_sigma = "big"',
        r"world\.users\.activity_sigma == 'big', must be of type float",
    ),
    (
        "[world.items]\nshare_meta = 0.7\nshare_artist = 0.5",
        r"world\.items\.share_artist == 0\.5, share_meta \+ share_artist must be <= 1",
    ),
    (
        "[world.items]\nmin_seconds = 700.0",
        r"world\.items\.min_seconds == 700\.0, must be <= max_seconds",
    ),
    ("[world.sessions]\nquit_hazard = 1.01", r"world\.sessions\.quit_hazard == 1\.01"),
    ("[world.sessions]\nmax_steps = 0", r"world\.sessions\.max_steps == 0, must be >= 1"),
    (
        "[world.retention]\nsatisfaction_smoothing = 3",
        r"world\.retention\.satisfaction_smoothing == 3\.0",
    ),
    ("[engine]\nbucket_minutes = 7", r"engine\.bucket_minutes == 7, must be >= 1 and divide 1440"),
    (
        '[simulate]\npolicy = "greedy"',
        r"simulate\.policy == 'greedy', must be one of 'random', 'popular', 'oracle'",
    ),
    ("[simulate]\ndays = 0", r"simulate\.days == 0, must be >= 1"),
    ("world = 3", r"world == 3, must be a table"),
    ("[unknown]\nx = 1", r"unknown is an unknown key"),
    ("[experiment]\nworkers = -1", r"experiment\.workers == -1, must be >= 1, or 0 for the cores"),
    # An arm's agent: a built-in or a factory path; only the syntax is checked here.
    (
        '[arms.control]\nagent = "mypkg.agents:"',
        r"^arms\.control\.agent == 'mypkg\.agents:', must be one of 'two_stage', 'random', "
        r"'popular', 'oracle', or a custom agent's factory 'package\.module:factory' "
        r"\(in .*bad\.toml\)$",
    ),
    (
        '[arms.control]\nagent = "mypkg.agents.MyAgent"',
        r"arms\.control\.agent == 'mypkg\.agents\.MyAgent', must be one of .*'package\.module:",
    ),
    ('[arms.control]\nagent = "my-pkg:make"', r"arms\.control\.agent == 'my-pkg:make', must be"),
    ('[arms.control]\nagent = "TwoStage"', r"arms\.control\.agent == 'TwoStage', must be one of"),
    ("[arms.control]\nagent = 3", r"arms\.control\.agent == 3, must be one of 'two_stage'"),
    (
        '[arms.control]\nretrieval_framework = "adapter_only"\nrouting = "strict"',
        r"^arms\.control\.routing == 'strict', needs a feature mask: retrieval_framework "
        r"'adapter_only' would leave the retrieval embeddings without gradient",
    ),
    (
        '[arms.control]\nretrieval_framework = "masknet"',
        r"arms\.control\.retrieval_framework == 'masknet', must be one of 'none', 'adaf2m2'",
    ),
    (
        "[world]\nn_items = 50\n[arms.control]\nn_candidates = 60\n[arms.treatment]",
        r"^arms\.control\.n_candidates == 60, must be <= world\.n_items \(50\), the catalogue "
        r"on day 0: retrieval cannot offer more songs than there are \(in .*bad\.toml\)$",
    ),
]


@pytest.mark.parametrize(("body", "message"), INVALID)
def test_invalid_config_names_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BASE + body + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_n_candidates_rule_is_for_two_stage_arms_only(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        BASE + '[world]\nn_items = 5\n[arms.control]\nagent = "random"\n'
        '[arms.treatment]\nagent = "popular"\n'
    )
    assert load_config(path).arms["control"].n_candidates == 20  # unused by a random arm
    cfg = load_config(path, ["arms.treatment.agent=two_stage", "arms.treatment.n_candidates=5"])
    assert cfg.arms["treatment"].n_candidates == 5  # the whole catalogue: allowed


def test_arm_config_checks_its_agent_in_python_too() -> None:
    with pytest.raises(ConfigError, match=r"^agent == 'pkg\.mod', must be one of .*:factory'$"):
        ArmConfig(agent="pkg.mod")


@pytest.mark.parametrize("agent", ["pkg:make", "pkg.mod:make", "pkg.mod:Agents.make", "_p:f"])
def test_a_factory_path_is_accepted_without_importing_it(tmp_path: Path, agent: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BASE + f'[arms.control]\nagent = "{agent}"\n[arms.treatment]\n')
    config = load_config(path)  # the module does not exist: the composition root imports
    assert config.arms["control"].agent == agent
    assert f'agent = "{agent}"' in config.to_toml()  # recorded as given


def test_workers_default_to_the_cores_available(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.experiment_config as ec

    # All three variants at once from two cores up (time-sliced on two), more if there are.
    for cores, expected in ((1, 1), (2, 3), (3, 3), (64, 64)):
        monkeypatch.setattr(ec, "available_cores", lambda n=cores: n)
        assert ExperimentConfig().workers == expected
        assert ExperimentConfig(workers=0).workers == expected
    assert ExperimentConfig(workers=5).workers == 5  # an explicit number is kept
    assert ec.available_cores() >= 1


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_presets_leave_workers_to_the_machine(path: Path) -> None:
    # The number of processes is a machine's choice, not an experiment's (results do not
    # depend on it): no preset pins it.
    assert "workers" not in tomllib.loads(path.read_text()).get("experiment", {})


SET_SOURCES: list[tuple[str, list[str], str]] = [
    # (file body after the base keys, overrides, where the message says the value came from)
    ("", ["world.n_users=-3"], "--set"),
    ("", ["world.bogus=1"], "--set"),
    ("", ["world.behavior.noise_skip_rate=2.0"], "--set"),
    ("[world]\nn_users = -3", ["world.n_items=10"], "file"),
    ("[world]\nn_users = -3", ["world.n_users=-4"], "--set"),
    ("[arms.control]\n[arms.treatment]", ["arms.control.share=0.7"], "--set"),
    ("[arms.control]\n[arms.treatment]", ["arms.treatment.k=0"], "--set"),
    # Valid alone; the override breaks a rule across keys (n_candidates against n_items).
    ("[arms.control]\n[arms.treatment]", ["world.n_items=5"], "--set"),
    ("[arms.control]\n[arms.treatment]\nk = 0", ["world.n_items=500"], "file"),
]


@pytest.mark.parametrize(("body", "overrides", "where"), SET_SOURCES)
def test_error_names_set_when_the_bad_value_came_from_an_override(
    tmp_path: Path, body: str, overrides: list[str], where: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BASE + body + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    message = str(info.value)
    suffix = " (in --set)" if where == "--set" else f" (in {path})"
    assert message.endswith(suffix), message
    assert message.count(" (in ") == 1, message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed = 1\n", r"^name is missing, it is required"),
        ('name = "t"\n', r"^seed is missing"),
        ('name = "a/b"\nseed = 1\n', r"^name == 'a/b'"),
        ('name = "t"\nseed = -1\n', r"^seed == -1, must be in \[0, 2\*\*63\)"),
    ],
)
def test_top_level_rules(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file '.*nope\.toml' does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "broken.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


def test_overrides_apply_before_validation(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BASE)
    cfg = load_config(
        path, ["world.n_users=5000", "simulate.policy=oracle", "world.behavior.noise_skip_rate=0.2"]
    )
    assert cfg.world.n_users == 5000
    assert cfg.simulate.policy == "oracle"  # bare word falls back to a string
    assert cfg.world.behavior.noise_skip_rate == 0.2
    with pytest.raises(ConfigError, match=r"world\.n_users == -1, must be > 0"):
        load_config(path, ["world.n_users=-1"])
    with pytest.raises(ConfigError, match=r"must look like section\.key=value"):
        load_config(path, ["world.n_users"])


@pytest.mark.parametrize(
    ("text", "keys", "value"),
    [
        ("a.b=3", ["a", "b"], 3),
        ("a=0.5", ["a"], 0.5),
        ("a=true", ["a"], True),
        ('a="x y"', ["a"], "x y"),
        ("a=[1, 2]", ["a"], [1, 2]),
        ("a=popular", ["a"], "popular"),
    ],
)
def test_parse_override(text: str, keys: list[str], value: Any) -> None:
    assert parse_override(text) == (keys, value)


def test_apply_overrides_does_not_mutate_input() -> None:
    data: dict[str, Any] = {"world": {"n_users": 1}}
    out = apply_overrides(data, ["world.n_items=3"])
    assert data == {"world": {"n_users": 1}}
    assert out == {"world": {"n_users": 1, "n_items": 3}}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load_and_round_trip(path: Path) -> None:
    cfg = load_config(path)
    again = from_dict(Config, tomllib.loads(cfg.to_toml()))
    assert again == cfg


def test_to_toml_round_trips_every_value_kind() -> None:
    cfg = Config(name='q"uote', seed=2**62, world=WorldConfig(n_users=3, dim=2))
    text = to_toml(cfg)
    assert from_dict(Config, tomllib.loads(text)) == cfg


def test_shipped_configs_exist() -> None:
    assert {p.name for p in CONFIGS} >= {
        "default.toml",
        "world.toml",
        "quick.toml",
        "paper_skew.toml",
    }
