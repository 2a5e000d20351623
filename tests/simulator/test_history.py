"""The logged past before day 0: determinism, who has a history, propensities, replay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.config import Config, WorldConfig, load_config
from simulator.engine.experiment import build_world
from simulator.engine.history import HISTORY_ARM, learn_history, replay_history, simulate_history
from simulator.errors import ConfigError
from simulator.policies import PopularPolicy
from simulator.types import FeedbackBatch

SMALL = """
name = "small_history"
seed = 3

[world]
n_users = 800
n_items = 300
new_users_per_day = 20.0
new_items_per_day = 5.0
history_days = 6
history_exploration = 0.1

[world.users]
history_days = 20

[engine]
progress = false
"""


def small_config(tmp_path: Path, *overrides: str) -> Config:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return load_config(path, overrides)


def _events(folder: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(folder / "events")
    return {c: table.column(c).to_numpy() for c in table.column_names}


def test_same_seed_gives_a_byte_identical_history(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    a = simulate_history(config, tmp_path / "a" / "history")
    b = simulate_history(config, tmp_path / "b" / "history")
    assert a.n_rows == b.n_rows > 1000
    files_a, files_b = a.event_files(), b.event_files()
    assert [f.name for f in files_a] == [f.name for f in files_b]
    for fa, fb in zip(files_a, files_b, strict=True):
        assert fa.read_bytes() == fb.read_bytes()
    assert (a.directory / "users.parquet").read_bytes() == (
        b.directory / "users.parquet"
    ).read_bytes()
    np.testing.assert_array_equal(a.satisfaction(), b.satisfaction())
    other = simulate_history(small_config(tmp_path, "seed=4"), tmp_path / "c" / "history")
    assert other.event_files()[0].read_bytes() != files_a[0].read_bytes()


def test_old_users_have_a_history_and_new_ones_do_not(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    history = simulate_history(config, tmp_path / "history")
    ev = _events(history.directory)
    world = build_world(config)
    days = config.world.history_days
    assert ev["day"].min() >= -days
    assert ev["day"].max() == -1
    assert (ev["minute"] < 0).all()
    assert set(np.unique(ev["arm"]).tolist()) == {HISTORY_ARM}
    reg = world.users.registration_minute
    # Nobody listens before registering, and nobody registered from day 0 on has a past.
    assert (ev["minute"] >= reg[ev["user_id"]]).all()
    assert (reg[np.unique(ev["user_id"])] < 0).all()
    # Users registered before the history window: most have listened in it, and they hold
    # many more samples per user than the users who registered during its last week.
    per_user = np.bincount(ev["user_id"], minlength=len(world.users))
    reg_day = world.users.registration_day
    old = (reg_day < -days) & (reg_day < 0)
    recent = (reg_day >= -3) & (reg_day < 0)
    # Casual users rarely come back (the activity law), so a share of the old ones listened
    # in these few days; those who did hold the heavy users' long histories.
    assert (per_user[old] > 0).mean() > 0.1
    assert per_user[old].mean() > 1.5 * per_user[recent].mean()
    # Items appear only from their release on.
    assert (ev["minute"] >= world.items.release_minute[ev["item_id"]]).all()


def test_propensities_are_the_logging_policys_exact_probabilities(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    history = simulate_history(config, tmp_path / "history")
    world = build_world(config)
    eps = config.world.history_exploration
    # Replaying the log through the same popularity counts gives every logged pscore.
    popular = PopularPolicy(power=config.world.history_popular_power, prior=1.0)
    for batch in replay_history(history, world, "x", config.engine.bucket_minutes):
        n = batch.requests.n_items
        p = (1 - eps) * popular.probabilities(n) + eps / n
        np.testing.assert_allclose(
            batch.recommendation.pscore, p[batch.recommendation.item_ids], rtol=1e-12
        )
        popular.observe(batch)


def test_replay_gives_every_row_once_in_time_order(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    history = simulate_history(config, tmp_path / "history")
    world = build_world(config)
    ev = _events(history.directory)
    batches = list(replay_history(history, world, "arm", config.engine.bucket_minutes))
    assert sum(len(b.requests) for b in batches) == history.n_rows == ev["user_id"].size
    minutes = [b.requests.minute for b in batches]
    assert minutes == sorted(minutes)
    # One batch per engine step call: a session appears at most once in a batch.
    for b in batches:
        assert np.unique(b.requests.session_ids).size == len(b.requests)
    users = np.concatenate([b.requests.user_ids for b in batches])
    finish = np.concatenate([b.finish for b in batches])
    np.testing.assert_array_equal(users, ev["user_id"])
    np.testing.assert_array_equal(finish, ev["finish"])
    assert all(b.requests.arm == "arm" for b in batches)


def test_a_finished_history_is_kept_and_an_interrupted_one_redone(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    folder = tmp_path / "history"
    first = simulate_history(config, folder)
    marker = folder / "events" / "mine.txt"
    marker.write_text("kept")
    again = simulate_history(config, folder)
    assert again.n_rows == first.n_rows
    assert marker.is_file()
    (folder / "done.json").unlink()  # as if killed before the end
    redone = simulate_history(config, folder)
    assert redone.n_rows == first.n_rows
    assert json.loads((folder / "done.json").read_text())["n_rows"] == first.n_rows


def test_agents_without_learn_history_observe_every_row(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    history = simulate_history(config, tmp_path / "history")
    world = build_world(config)
    seen: list[int] = []

    class Counting:
        def recommend(self, requests, rng):  # type: ignore[no-untyped-def]
            raise AssertionError("not served")

        def observe(self, feedback: FeedbackBatch) -> None:
            seen.append(len(feedback.requests))

    learn_history(Counting(), history, world, "c", config.engine.bucket_minutes)
    assert sum(seen) == history.n_rows


def test_history_days_must_fit_the_registrations() -> None:
    with pytest.raises(ConfigError, match=r"history_days == 200, must be in \[0, users"):
        WorldConfig(history_days=200)
    with pytest.raises(ConfigError, match="history_policy == 'oracle'"):
        WorldConfig(history_policy="oracle")  # type: ignore[arg-type]
