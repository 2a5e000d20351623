"""``adasim.envs``: Gymnasium's checks, seeding, the engine's numbers, vector = single.

* both environments pass Gymnasium's ``check_env`` (the vector one
  :func:`~adasim.envs.check_vector_env`, Gymnasium 1.3 having no vector checker);
* the same seed gives the same episodes, another seed other ones;
* ``noise="world"``: replaying the songs an engine run served gives that run's event log,
  column for column (listen seconds, finish, ..., ``true_finish_prob``, the minute), the
  same sessions and the end of the episode at the user's last event;
* ``SessionVectorEnv`` equals ``SyncVectorEnv`` over ``SessionEnv`` exactly: observations,
  rewards, terminations, truncations and info, through autoresets and truncations;
* bad arguments raise one line that names the parameter, its value and the rule, before
  a world is built;
* the bandit example trains and beats the random policy.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium", reason="adasim.envs needs the gym extra")

from gymnasium.error import ResetNeeded  # noqa: E402
from gymnasium.utils.env_checker import check_env, data_equivalence  # noqa: E402
from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402

from adasim.envs import (  # noqa: E402
    ENV_ID,
    InvalidActionError,
    SessionEnv,
    SessionVectorEnv,
    check_vector_env,
)
from adasim.envs.dynamics import EpisodeRows  # noqa: E402
from adasim.envs.env_config import (  # noqa: E402
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_WORLD,
    EnvConfig,
)
from adasim.envs.spaces import INFO_TYPES, STATE_INFO, STEP_INFO  # noqa: E402
from simulator.config import EngineConfig, load_config  # noqa: E402
from simulator.engine.engine import Engine  # noqa: E402
from simulator.engine.eventlog import EventLog  # noqa: E402
from simulator.errors import ConfigError  # noqa: E402
from simulator.policies import RandomPolicy  # noqa: E402
from simulator.world.behavior import episode_start_hazard, sigmoid  # noqa: E402
from simulator.world.world import World  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
MASK_KEYS = ("action_mask", "_action_mask")


@pytest.fixture(scope="module")
def world() -> World:
    """The default environment's world, shared by the environments of a test."""
    return SessionEnv().world


def _released(rng: np.random.Generator, n_items: Any, overshoot: float = 1.0) -> Any:
    """Uniform released songs (``overshoot > 1``: some not released yet)."""
    return np.floor(rng.random(np.shape(n_items)) * np.asarray(n_items) * overshoot).astype(
        np.int64
    )


def _without_masks(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k not in MASK_KEYS}


# ------------------------------------------------------------------ Gymnasium's checks


@pytest.mark.parametrize(
    "options",
    [{}, {"reward": "finish", "noise": "world"}, {"max_episode_steps": 5, "history_length": 1}],
)
def test_session_env_passes_check_env(world: World, options: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any other Gymnasium warning fails the test
        warnings.filterwarnings("ignore", message=".*not having a spec.*")
        check_env(SessionEnv(world=world, **options))


def test_registered_env_passes_check_env_with_its_spec() -> None:
    env = gym.make(ENV_ID, reward="finish")
    assert env.unwrapped.spec is not None
    assert env.unwrapped.spec.id == ENV_ID
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    assert env.unwrapped.env_config.reward == "finish"


@pytest.mark.parametrize("options", [{}, {"noise": "world", "max_episode_steps": 7}])
def test_vector_env_passes_the_vector_checks(world: World, options: dict[str, Any]) -> None:
    envs = SessionVectorEnv(32, world=world, **options)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    check_vector_env(envs, n_steps=80)


def test_make_vec_builds_the_vector_env() -> None:
    envs = gym.make_vec(ENV_ID, num_envs=8, vectorization_mode="vector_entry_point")
    assert isinstance(envs.unwrapped, SessionVectorEnv)
    assert envs.num_envs == 8
    check_vector_env(envs.unwrapped, n_steps=10)


def test_vector_shapes_and_spaces(world: World) -> None:
    envs = SessionVectorEnv(5, world=world, history_length=4)
    obs, info = envs.reset(seed=1)
    assert obs["user"].shape == (5, 5)
    assert obs["context"].shape == (5, 4)
    assert obs["history_items"].shape == (5, 4)
    assert (obs["history_items"] == -1).all()
    assert obs["history_feedback"].shape == (5, 4, 5)
    assert set(info) == {*STATE_INFO, *(f"_{k}" for k in STATE_INFO)}
    actions = _released(np.random.default_rng(0), obs["context"][:, 3])
    obs, rewards, terminated, truncated, info = envs.step(actions)
    assert obs in envs.observation_space
    assert rewards.dtype == np.float64
    assert terminated.dtype == truncated.dtype == np.bool_
    assert set(info) == {*STATE_INFO, *STEP_INFO} | {f"_{k}" for k in (*STATE_INFO, *STEP_INFO)}
    assert envs.action_masks().shape == (5, world.n_items_total)
    assert (envs.action_masks().sum(axis=1) == info["n_items"]).all()


def test_info_types_cover_the_info_keys() -> None:
    assert set(INFO_TYPES) == {*STATE_INFO, *STEP_INFO}


# ------------------------------------------------------------------ seeding


def _rollout(env: SessionEnv, seed: int | None, n_steps: int) -> list[Any]:
    rng = np.random.default_rng(3)
    obs, info = env.reset(seed=seed)
    out: list[Any] = [obs, info]
    for _ in range(n_steps):
        step = env.step(int(_released(rng, obs["context"][3])))
        out.append(step)
        obs = step[0]
        if step[2] or step[3]:
            obs, info = env.reset()
            out.append((obs, info))
    return out


@pytest.mark.parametrize("noise", ["episode", "world"])
def test_same_seed_same_episodes(world: World, noise: str) -> None:
    env = SessionEnv(world=world, noise=noise)  # type: ignore[arg-type]
    first = _rollout(env, 11, 300)
    assert data_equivalence(first, _rollout(env, 11, 300), exact=True)
    assert data_equivalence(first, _rollout(SessionEnv(world=world, noise=noise), 11, 300))  # type: ignore[arg-type]
    assert not data_equivalence(first, _rollout(env, 12, 300))


def test_reset_without_a_seed_moves_the_stream_on(world: World) -> None:
    env = SessionEnv(world=world)
    env.reset(seed=4)
    users = [env.reset()[1]["user_id"] for _ in range(30)]
    env.reset(seed=4)
    assert users == [env.reset()[1]["user_id"] for _ in range(30)]
    assert len(set(users)) > 10


def test_episode_noise_is_fresh_and_world_noise_is_the_worlds(world: World) -> None:
    """The same user twice: other numbers per episode, the same ones with noise='world'."""

    def listens(env: SessionEnv, seed: int) -> list[float]:
        env.reset(seed=seed, options={"user_id": 3})
        out = []
        for item in range(5):
            _, _, terminated, _, info = env.step(item)
            out.append(info["listen_seconds"])
            if terminated:
                break
        return out

    fresh, same = SessionEnv(world=world), SessionEnv(world=world, noise="world")
    assert listens(same, 1) == listens(same, 2)
    assert listens(fresh, 1) != listens(fresh, 2)


def test_vector_reset_seed_is_deterministic(world: World) -> None:
    def run(seed: int) -> list[Any]:
        envs = SessionVectorEnv(16, world=world)
        obs, info = envs.reset(seed=seed)
        rng = np.random.default_rng(0)
        out: list[Any] = [obs, info]
        for _ in range(40):
            out.append(step := envs.step(_released(rng, obs["context"][:, 3])))
            obs = step[0]
        return out

    assert data_equivalence(run(5), run(5), exact=True)
    assert not data_equivalence(run(5), run(6))


def test_users_are_drawn_in_proportion_to_day0_traffic(world: World) -> None:
    rows = EpisodeRows(world, EnvConfig(n_days=DEFAULT_DAYS), 1)
    n = 200_000
    users = rows.draw_users(np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64))
    p = rows.user_weights / rows.user_weights.sum()
    counts = np.bincount(users, minlength=p.shape[0])
    top = np.argsort(p)[-20:]  # the heaviest users: counts well above zero
    se = np.sqrt(n * p[top] * (1 - p[top]))
    assert (np.abs(counts[top] - n * p[top]) < 5 * se).all()
    assert users.max() < rows.n_eligible


# ------------------------------------------------------------------ the engine's numbers


@pytest.fixture(scope="module")
def engine_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Any]:
    """A 3-day random-policy engine run of the default env's world, its events by user."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    env = SessionEnv(noise="world")
    out = tmp_path_factory.mktemp("engine_log")
    log = EventLog(out, ["random"])
    engine = Engine(
        env.world, {"random": RandomPolicy()}, config=EngineConfig(progress=False), log=log, rng=0
    )
    engine.run(env.env_config.days)
    engine.close()
    table = pa.concat_tables([pq.read_table(f) for f in sorted(out.rglob("*.parquet"))])
    events = table.to_pandas().sort_values(["user_id", "session_id", "step"])
    return env.world, events


LOGGED = (
    "minute",
    "listen_seconds",
    "item_seconds",
    "finish",
    "skip",
    "like",
    "comment",
    "dislike",
    "true_finish_prob",
    "true_noise_skip",
)


def _day0_users(world: World, events: Any) -> list[int]:
    n_eligible = world.n_users_at(1439)
    first_day = events.groupby("user_id")["day"].min()
    return [int(u) for u, d in first_day.items() if d == 0 and u < n_eligible]


def test_single_env_replays_the_engine_exactly(engine_log: tuple[World, Any]) -> None:
    world, events = engine_log
    users = _day0_users(world, events)
    env = SessionEnv(world=world, noise="world")
    by_user = dict(list(events.groupby("user_id")))
    for u in users[:: max(1, len(users) // 8)]:
        rows = by_user[u].to_dict("records")
        env.reset(options={"user_id": u})
        for k, row in enumerate(rows):
            _, reward, terminated, truncated, info = env.step(int(row["item_id"]))
            assert {c: info[c] for c in LOGGED} == {c: row[c] for c in LOGGED}, (u, k)
            assert reward == row["listen_seconds"] / row["item_seconds"]
            if k + 1 < len(rows):
                assert not terminated, (u, k)
                assert not truncated, (u, k)
                assert info["session_ended"] == (rows[k + 1]["session_id"] != row["session_id"])
        assert terminated, u  # the user's last logged step ends the episode


def test_vector_env_replays_every_day0_user_of_the_engine(engine_log: tuple[World, Any]) -> None:
    """All users of day 0 at once, pinned by options['user_id']; later days by retention."""
    world, events = engine_log
    users = _day0_users(world, events)
    assert len(users) > 50
    logs = [g.to_dict("records") for _, g in events[events.user_id.isin(users)].groupby("user_id")]
    envs = SessionVectorEnv(len(users), world=world, noise="world", reward="finish")
    envs.reset(seed=0, options={"user_id": np.array(users)})
    longest = max(len(rows) for rows in logs)
    for k in range(longest):
        live = np.array([k < len(rows) for rows in logs])
        actions = np.array([rows[k]["item_id"] if k < len(rows) else 0 for rows in logs])
        _, rewards, terminated, _, info = envs.step(actions)
        for i in np.flatnonzero(live):
            row = logs[i][k]
            assert {c: info[c][i] for c in LOGGED} == {c: row[c] for c in LOGGED}, (i, k)
            assert rewards[i] == float(row["finish"])
            assert terminated[i] == (k + 1 == len(logs[i])), (i, k)


def test_true_finish_prob_is_the_behaviour_formula(world: World) -> None:
    """At a session's first step (undistracted): (1 - h_u) sigmoid(slope a + bias)."""
    env = SessionEnv(world=world)
    b = world.config.behavior
    for seed in range(20):
        _, start = env.reset(seed=seed)
        _, _, _, _, info = env.step(5)
        u = start["user_id"]
        h = episode_start_hazard(world.users.noise_rate[u], b.noise_episode_mean_length)
        a = info["true_affinity"]
        assert a == pytest.approx(float(world.affinity(u, 5)), rel=1e-12)
        expected = (1 - h) * sigmoid(np.float64(b.finish_slope * a + b.finish_bias))
        assert info["true_finish_prob"] == pytest.approx(float(expected), rel=1e-12)


# ------------------------------------------------------------------ vector = single


@pytest.mark.parametrize("noise", ["episode", "world"])
def test_vector_env_equals_sync_vector_env_of_single_envs(world: World, noise: str) -> None:
    n, options = 12, {"noise": noise, "max_episode_steps": 30}
    vector = SessionVectorEnv(n, world=world, **options)  # type: ignore[arg-type]
    sync = SyncVectorEnv([lambda: SessionEnv(world=world, **options) for _ in range(n)])  # type: ignore[arg-type]
    obs, info = vector.reset(seed=9)
    obs_s, info_s = sync.reset(seed=9)
    assert data_equivalence((obs, info), (obs_s, _without_masks(info_s)), exact=True)
    rng = np.random.default_rng(2)
    ended = 0
    for t in range(250):
        # a few songs not yet released: the skipped-unheard path too
        actions = np.minimum(_released(rng, obs["context"][:, 3], 1.01), world.n_items_total - 1)
        out, out_s = vector.step(actions), sync.step(actions)
        for name, x, y in zip(
            ("obs", "rewards", "terminated", "truncated"), out, out_s, strict=False
        ):
            assert data_equivalence(x, y, exact=True), (t, name)
        assert data_equivalence(out[4], _without_masks(out_s[4]), exact=True), t
        obs = out[0]
        ended += int((out[2] | out[3]).sum())
    assert ended > 20  # the comparison went through many autoresets


# ------------------------------------------------------------------ episodes


def test_terminal_observation_and_reset_needed(world: World) -> None:
    env = SessionEnv(world=world, n_days=1)
    obs, _ = env.reset(seed=0)
    with pytest.raises(ResetNeeded):
        SessionEnv(world=world).step(0)
    terminated = False
    while not terminated:
        obs, _, terminated, truncated, _ = env.step(int(obs["context"][3]) - 1)
        assert not truncated
    assert obs["context"][0] == 1  # day == n_days: the horizon is over
    assert obs in env.observation_space
    with pytest.raises(ResetNeeded, match="call reset"):
        env.step(0)


def test_max_episode_steps_truncates(world: World) -> None:
    env = SessionEnv(world=world, max_episode_steps=3)
    lengths = []
    for seed in range(30):
        env.reset(seed=seed)
        n_steps, terminated, truncated = 0, False, False
        while not (terminated or truncated):
            _, _, terminated, truncated, _ = env.step(0)
            n_steps += 1
        assert n_steps <= 3
        assert not truncated or n_steps == 3
        lengths.append(n_steps)
    assert 3 in lengths


def test_an_unreleased_song_is_skipped_unheard(world: World) -> None:
    env = SessionEnv(world=world)
    _, info = env.reset(seed=0)
    n_items = info["n_items"]
    assert info["action_mask"].dtype == np.int8
    assert info["action_mask"].sum() == n_items
    _, reward, _, _, info = env.step(world.n_items_total - 1)
    assert n_items < world.n_items_total
    assert info["invalid_action"]
    assert info["skip"]
    assert not info["finish"]
    assert reward == 0.0
    assert info["listen_seconds"] == 0.0
    assert info["true_finish_prob"] == 0.0


def test_history_holds_the_last_songs_and_feedback(world: World) -> None:
    env = SessionEnv(world=world, history_length=3)
    env.reset(seed=2)
    played = []
    for item in (4, 9, 2, 7):
        obs, _, terminated, _, info = env.step(item)
        played.append((item, info))
        if terminated:
            break
    last = played[-3:]
    assert obs["history_items"].tolist()[-len(last) :] == [item for item, _ in last]
    item, info = played[-1]
    assert obs["history_feedback"][-1].tolist() == [
        int(info[k]) for k in ("finish", "skip", "like", "comment", "dislike")
    ]
    assert obs["history_listen"][-1] == np.float32(info["listen_fraction"])


def test_default_world_is_quick_toml() -> None:
    quick = load_config(QUICK)
    assert quick.world == DEFAULT_WORLD
    assert (quick.seed, quick.simulate.days) == (DEFAULT_SEED, DEFAULT_DAYS)


def test_config_path_builds_the_simulate_world() -> None:
    env = SessionEnv(QUICK, n_days=2)
    expected = World.build(load_config(QUICK).world, 2, np.random.SeedSequence(7).spawn(2)[0])
    assert np.array_equal(env.world.users.taste, expected.users.taste)
    assert env.env_config.n_days == 2


# ------------------------------------------------------------------ bad arguments

BAD_ARGUMENTS: list[tuple[dict[str, Any], type[Exception], str]] = [
    (
        {"reward": "clicks"},
        ConfigError,
        r"^reward == 'clicks', must be one of 'listen_fraction', 'finish'$",
    ),
    ({"n_days": 0}, ConfigError, r"^n_days == 0, must be >= 1$"),
    ({"n_days": 2.5}, ConfigError, r"^n_days == 2.5, must be an integer$"),
    ({"history_length": 0}, ConfigError, r"^history_length == 0, must be >= 1$"),
    ({"noise": "fresh"}, ConfigError, r"^noise == 'fresh', must be one of 'episode', 'world'$"),
    ({"invalid_action": "mask"}, ConfigError, r"^invalid_action == 'mask', must be one of"),
    ({"max_episode_steps": 0}, ConfigError, r"^max_episode_steps == 0, must be >= 1$"),
    ({"seed": -1}, ConfigError, r"^seed == -1, must be None or an integer >= 0$"),
    ({"seed": 2**63}, ConfigError, r"^seed == 9223372036854775808, must be < 2\*\*63$"),
    ({"config": 3}, ConfigError, r"^config == 3, must be a Config, a TOML path"),
    ({"config": "nowhere.toml"}, ConfigError, r"nowhere\.toml"),
    ({"world": "w"}, ConfigError, r"^world == 'w', must be a simulator\.world\.World or None$"),
]


@pytest.mark.parametrize(("kwargs", "error", "pattern"), BAD_ARGUMENTS)
@pytest.mark.parametrize("cls", [SessionEnv, SessionVectorEnv])
def test_bad_arguments_fail_in_one_line_before_any_work(
    monkeypatch: pytest.MonkeyPatch,
    cls: type,
    kwargs: dict[str, Any],
    error: type[Exception],
    pattern: str,
) -> None:
    def no_world(*args: Any, **kw: Any) -> None:
        raise AssertionError("a world was built before the arguments were checked")

    monkeypatch.setattr(World, "build", no_world)
    args = (4,) if cls is SessionVectorEnv else ()
    with pytest.raises(error, match=pattern) as caught:
        cls(*args, **kwargs)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("n_users", "pattern"),
    [(0, r"^n_users == 0, must be >= 1$"), (True, r"^n_users == True, must be an integer$")],
)
def test_bad_n_users(n_users: Any, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        SessionVectorEnv(n_users)


def test_world_and_horizon_rules(world: World) -> None:
    with pytest.raises(ConfigError, match=r"^world == .*, must come alone"):
        SessionEnv(QUICK, world=world)
    with pytest.raises(ConfigError, match=r"^n_days == 9, must be <= world\.n_days \(3\)"):
        SessionEnv(world=world, n_days=9)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"user": 1}, r"^options == \{'user': 1\}, may only have the keys 'user_id'$"),
        ({"user_id": 10**6}, r"^options\['user_id'\] == 1000000, must be in \[0, \d+\): the users"),
        ({"user_id": "a"}, r"^options\['user_id'\] == 'a', must be an integer user id$"),
    ],
)
def test_bad_reset_options(world: World, options: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        SessionEnv(world=world).reset(options=options)


def test_bad_actions(world: World) -> None:
    env = SessionEnv(world=world)
    _, _info = env.reset(seed=0)
    n = world.n_items_total
    with pytest.raises(InvalidActionError, match=rf"^action == {n}, must be in the action space"):
        env.step(n)
    with pytest.raises(InvalidActionError, match=r"^action == 1.5, must be an integer song id"):
        env.step(1.5)  # type: ignore[arg-type]
    strict = SessionEnv(world=world, invalid_action="raise")
    strict.reset(seed=0)
    with pytest.raises(
        InvalidActionError, match=r"^action == \d+, must be a song released by day 0"
    ):
        strict.step(n - 1)
    envs = SessionVectorEnv(3, world=world, invalid_action="raise")
    envs.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"^actions has shape \(2,\)"):
        envs.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(InvalidActionError, match=r"^actions\[1\] == -1, must be in the action"):
        envs.step(np.array([0, -1, 0]))
    with pytest.raises(InvalidActionError, match=r"^actions\[2\] == \d+, must be a song released"):
        envs.step(np.array([0, 0, n - 1]))
    # nothing moved: the same step after the failures equals a fresh one
    fresh = SessionVectorEnv(3, world=world, invalid_action="raise")
    fresh.reset(seed=0)
    assert data_equivalence(envs.step(np.zeros(3, np.int64)), fresh.step(np.zeros(3, np.int64)))


def test_bad_vector_reset(world: World) -> None:
    envs = SessionVectorEnv(3, world=world)
    with pytest.raises(ConfigError, match=r"must be all True at the first reset"):
        envs.reset(options={"reset_mask": np.array([True, False, False])})
    with pytest.raises(ConfigError, match=r"^seed == \[1, 2\], must be None, an int or a sequence"):
        envs.reset(seed=[1, 2])
    envs.reset(seed=0)
    with pytest.raises(ConfigError, match=r"^options\['reset_mask'\] == .*, must be a bool array"):
        envs.reset(options={"reset_mask": [True, True, True]})
    _, info = envs.reset(options={"reset_mask": np.array([False, True, False])})
    assert info["_user_id"].tolist() == [False, True, False]


# ------------------------------------------------------------------ the example and the extra


def test_bandit_example_beats_random() -> None:
    done = subprocess.run(
        [sys.executable, "docs/examples/bandit_env.py", "--n-users", "1000", "--steps", "100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    means = dict(re.findall(r"^(\w+)\s+mean finish per step ([\d.]+)$", done.stdout, re.M))
    assert float(means["epsilon_greedy"]) > 1.2 * float(means["random"]), done.stdout


def test_without_gymnasium_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['gymnasium'] = None\n"
        "import adasim\n"
        "try:\n"
        "    adasim.SessionEnv\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "pip install adasim[gym]" in out.stdout
    assert len(out.stdout.strip().splitlines()) == 1
