"""The engine: determinism, batch invariance, arrivals, arms, hooks, contract checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from simulator.config import Config, EngineConfig, WorldConfig, load_config
from simulator.engine.engine import Engine
from simulator.engine.eventlog import EVENT_SCHEMA, EventLog, read_events
from simulator.engine.simulate import simulate_world
from simulator.errors import SimulationError
from simulator.policies import OraclePolicy, RandomPolicy
from simulator.types import USER_COLUMNS, FeedbackBatch, Recommendation, RequestBatch
from simulator.world.world import World

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.toml"
SMALL = WorldConfig(n_users=600, n_items=400, new_users_per_day=30.0, new_items_per_day=10.0, dim=8)
FAST = EngineConfig(progress=False, bucket_minutes=60)


def _run(tmp: Path, seed: int, days: int = 2, policy: str = "random") -> Path:
    cfg = load_config(QUICK, [f"seed={seed}", f"simulate.days={days}", f"simulate.policy={policy}"])
    simulate_world(cfg, tmp)
    return tmp


def _bytes(directory: Path) -> dict[str, bytes]:
    files = [
        *sorted(directory.glob("events/*.parquet")),
        directory / "users.parquet",
        directory / "items.parquet",
    ]
    return {f.name: f.read_bytes() for f in files}


def test_same_seed_gives_byte_identical_files_other_seed_differs(tmp_path: Path) -> None:
    a = _bytes(_run(tmp_path / "a", 3))
    b = _bytes(_run(tmp_path / "b", 3))
    c = _bytes(_run(tmp_path / "c", 4))
    assert a == b
    assert a["part-00000.parquet"] != c["part-00000.parquet"]
    schema = pq.read_schema(tmp_path / "a" / "events" / "part-00000.parquet")
    assert schema.remove_metadata().equals(EVENT_SCHEMA)
    users = pq.read_schema(tmp_path / "a" / "users.parquet").names
    assert users[: len(USER_COLUMNS)] == list(USER_COLUMNS)
    assert users[len(USER_COLUMNS) :] == ["age_band", "gender", "region", "device"]
    items = pq.read_schema(tmp_path / "a" / "items.parquet").names
    assert items == [
        "item_id",
        "release_day",
        "item_seconds",
        "artist_id",
        "genre",
        "mood",
        "scene",
        "language",
    ]


def _events(
    world: World, policy: object, engine_cfg: EngineConfig, tmp: Path, days: int
) -> pd.DataFrame:
    log = EventLog(tmp, ["a"], chunk_rows=engine_cfg.chunk_rows)
    e = Engine(world, {"a": policy}, config=engine_cfg, log=log, rng=1)  # type: ignore[dict-item]
    e.run(days)
    e.close(tmp)
    return read_events(tmp).to_pandas().sort_values(["session_id", "step"]).reset_index(drop=True)


def test_bucket_size_does_not_change_results(tmp_path: Path) -> None:
    # A deterministic stateless policy: every difference would come from batching.
    w = World.build(SMALL, 2, 0)
    runs = [
        _events(
            w,
            OraclePolicy(w, top_k=1),
            EngineConfig(progress=False, bucket_minutes=b),
            tmp_path / str(b),
            2,
        )
        for b in (15, 60, 240)
    ]
    assert len(runs[0]) > 1000
    for other in runs[1:]:
        assert runs[0].equals(other)


def test_chunk_size_does_not_change_the_log(tmp_path: Path) -> None:
    w = World.build(SMALL, 1, 0)
    big = _events(
        w, RandomPolicy(), EngineConfig(progress=False, chunk_rows=10**6), tmp_path / "big", 1
    )
    small = _events(
        w, RandomPolicy(), EngineConfig(progress=False, chunk_rows=97), tmp_path / "small", 1
    )
    assert big.equals(small)
    assert (
        len(
            pq.ParquetFile(tmp_path / "small/events/part-00000.parquet")
            .metadata.row_group(0)
            .to_dict()["columns"]
        )
        == 17
    )


def test_noise_skip_share_within_exact_binomial_band(tmp_path: Path) -> None:
    # The law of independent noisy skips, the same rate for every user (episodes and
    # per-user rates: tests/simulator/test_noise_episodes.py).
    old_law = [
        "world.behavior.noise_rate_concentration=inf",
        "world.behavior.noise_episode_mean_length=1.0",
    ]
    cfg = load_config(QUICK, ["seed=5", "simulate.days=3", "simulate.policy=random", *old_law])
    simulate_world(cfg, tmp_path)
    run = tmp_path
    ev = read_events(run, ["true_noise_skip", "skip"]).to_pandas()
    n = len(ev)
    rate = load_config(QUICK).world.behavior.noise_skip_rate
    lo, hi = stats.binom.ppf([0.005, 0.995], n, rate)
    assert lo <= ev.true_noise_skip.sum() <= hi, (n, ev.true_noise_skip.sum(), lo, hi)
    assert (ev.skip[ev.true_noise_skip]).all()


def test_new_users_arrive_every_day_and_are_recorded(tmp_path: Path) -> None:
    days = 3
    run = _run(tmp_path, 6, days=days)
    users = pq.read_table(run / "users.parquet").to_pandas()
    ev = read_events(run, ["user_id", "day"]).to_pandas()
    for d in range(days):
        arrived = users.user_id[users.registration_day == d]
        assert len(arrived) > 0, d
        # A user opens the app on the day of registration and never before it.
        first_day = ev.groupby("user_id").day.min()
        assert (first_day.reindex(arrived) == d).all()
    assert (np.diff(users.registration_day) >= 0).all()  # ids follow arrival order
    reg = users.set_index("user_id").registration_day
    assert (ev.day.to_numpy() >= reg.reindex(ev.user_id).to_numpy()).all()
    expect = np.where(
        users.registration_day >= -load_config(QUICK).world.users.new_user_days, "new", "old"
    )
    assert (users.cohort.to_numpy() == expect).all()


class _Recorder:
    def __init__(self, arm: str) -> None:
        self.arm = arm
        self.users: list[np.ndarray] = []
        self.inner = RandomPolicy()

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        assert requests.arm == self.arm
        self.users.append(requests.user_ids.copy())
        return self.inner.recommend(requests, rng)

    def observe(self, feedback: FeedbackBatch) -> None:
        assert feedback.requests.arm == self.arm
        assert len(feedback.finish) == len(feedback.requests)


def test_several_arms_and_hooks(tmp_path: Path) -> None:
    w = World.build(SMALL, 2, 1)
    arms = {"control": _Recorder("control"), "treatment": _Recorder("treatment")}
    log = EventLog(tmp_path, list(arms), chunk_rows=1000)
    engine = Engine(w, arms, assign=lambda u: u % 2, config=FAST, log=log, rng=3)  # type: ignore[arg-type]
    calls: list[tuple[int, int]] = []
    engine.add_hook(180, lambda eng, minute: calls.append((minute, eng.stats.impressions)))
    engine.run(1)
    engine.run(1)  # resumable
    engine.close(tmp_path)
    assert all((np.concatenate(arms["control"].users) % 2) == 0)
    assert all((np.concatenate(arms["treatment"].users) % 2) == 1)
    ev = read_events(tmp_path, ["arm", "user_id", "minute"]).to_pandas()
    assert (ev.arm == np.where(ev.user_id % 2 == 0, "control", "treatment")).all()
    assert [m for m, _ in calls] == list(range(180, 2 * 1440, 180))
    # A hook at minute t has seen exactly the steps that started before t.
    for minute, seen in calls:
        assert seen == int((ev.minute < minute).sum()), minute
    users = pq.read_table(tmp_path / "users.parquet").to_pandas()
    assert (users.arm == np.where(users.user_id % 2 == 0, "control", "treatment")).all()


def test_twin_runs_share_random_numbers() -> None:
    # Common random numbers: the first day's sessions and every step-0 noise skip are the
    # same whatever the policy, because they depend only on (user, day, session, step).
    w = World.build(SMALL, 1, 2)
    out = {}
    for name, pol in (("random", RandomPolicy()), ("oracle", OraclePolicy(w, 5))):
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

        class Log:
            def __init__(self, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
                self.rows = rows

            def append(self, cols):  # type: ignore[no-untyped-def]
                first = cols["step"] == 0
                self.rows.append(
                    (
                        cols["session_id"][first],
                        cols["user_id"][first],
                        cols["true_noise_skip"][first],
                    )
                )

        e = Engine(w, {"a": pol}, config=FAST, log=Log(rows), rng=0)  # type: ignore[arg-type]
        e.run(1)
        sid, uid, noise = (np.concatenate(x) for x in zip(*rows, strict=True))
        order = np.argsort(sid)
        out[name] = (sid[order], uid[order], noise[order])
    for a, b in zip(out["random"], out["oracle"], strict=True):
        np.testing.assert_array_equal(a, b)


class _Bad:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        n = len(requests)
        if self.mode == "outside":
            return Recommendation(np.full(n, requests.n_items), np.full(n, 0.5))
        if self.mode == "shape":
            return Recommendation(np.zeros(n + 1, np.int64), np.full(n + 1, 0.5))
        return Recommendation(np.zeros(n, np.int64), np.zeros(n))

    def observe(self, feedback: FeedbackBatch) -> None:
        pass


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("outside", r"recommended an item outside \[0, \d+\)"),
        ("shape", r"must both be \(\d+,\)"),
        ("pscore", r"pscore outside \(0, 1\]"),
    ],
)
def test_policy_contract_violations_raise(mode: str, message: str) -> None:
    w = World.build(SMALL, 1, 0)
    with pytest.raises(SimulationError, match=message):
        Engine(w, {"bad": _Bad(mode)}, config=FAST).run(1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policies": {}}, "policies is empty"),
        ({"n_days": 5}, r"exceeds the world's horizon n_days == 1"),
        ({"n_days": -1}, r"n_days == -1, must be >= 0"),
        ({"assign": lambda u: u * 0 + 7}, r"assign returned arm indices outside \[0, 1\)"),
    ],
)
def test_engine_argument_errors(kwargs: dict[str, object], message: str) -> None:
    w = World.build(SMALL, 1, 0)
    n_days = kwargs.pop("n_days", 1)
    policies = kwargs.pop("policies", {"a": RandomPolicy()})
    with pytest.raises(SimulationError, match=message):
        Engine(w, policies, config=FAST, **kwargs).run(n_days)  # type: ignore[arg-type]


def test_resolved_config_is_written_and_reloads(tmp_path: Path) -> None:
    cfg = load_config(QUICK, ["seed=11", "simulate.days=1"])
    simulate_world(cfg, tmp_path)
    again = load_config(tmp_path / "config.toml")
    assert again == cfg
    assert isinstance(again, Config)
