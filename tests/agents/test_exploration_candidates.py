"""Exploration candidates: hashed draws per request, the slot rule, exact replay for OPE."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from agents.exploration_candidates import hashed_draws, with_exploration
from agents.two_stage import TwoStage
from simulator.config import WorldConfig
from simulator.conformance import check_recommender
from simulator.experiment_config import ArmConfig
from simulator.types import RequestBatch
from simulator.world.world import World

ARM = ArmConfig(n_candidates=8, hidden_dims=(16,), id_capacity=256, explore_share=0.25, embed_dim=4)


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(
        WorldConfig(n_users=200, n_items=120, new_users_per_day=10, new_items_per_day=5), 3, 0
    )


def requests(n: int, n_items: int, minute: int = 0, first_session: int = 0) -> RequestBatch:
    return RequestBatch(
        minute=minute,
        day=minute // 1440,
        arm="control",
        user_ids=np.arange(n, dtype=np.int64) % 150,
        session_ids=np.arange(first_session, first_session + n, dtype=np.int64),
        steps=np.arange(n, dtype=np.int64) % 3,
        n_items=n_items,
    )


def test_draws_are_a_function_of_the_request_not_of_its_batch() -> None:
    sessions, steps = np.arange(100, dtype=np.int64), np.zeros(100, dtype=np.int64)
    whole = hashed_draws(9, sessions, steps, 4, 0, 50)
    part = hashed_draws(9, sessions[60:], steps[60:], 4, 0, 50)
    np.testing.assert_array_equal(whole[60:], part)
    assert not np.array_equal(whole, hashed_draws(10, sessions, steps, 4, 0, 50))
    assert not np.array_equal(whole, hashed_draws(9, sessions, steps + 1, 4, 0, 50))


def test_draws_are_uniform_on_their_range() -> None:
    n = 20_000
    draws = hashed_draws(1, np.arange(n, dtype=np.int64), np.zeros(n, np.int64), 1, 30, 40)
    assert draws.min() >= 30
    assert draws.max() < 40
    counts = np.bincount(draws[:, 0] - 30, minlength=10)
    # Chi-square goodness of fit at 1e-4: fails only if the hash is visibly non-uniform.
    assert stats.chisquare(counts).pvalue > 1e-4


def test_slot_rule_keeps_the_head_and_never_repeats_a_song() -> None:
    retrieved = np.array([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]])
    draws = np.array([[7, 8], [1, 9], [9, 9]])
    out = with_exploration(retrieved, draws)
    np.testing.assert_array_equal(out[0], [0, 1, 7, 8])
    np.testing.assert_array_equal(out[1], [0, 1, 2, 9])  # 1 is retrieved: slot 2 stays
    np.testing.assert_array_equal(out[2], [0, 1, 9, 3])  # the second 9 repeats: slot 3 stays
    dup = with_exploration(np.array([[0, 1, 2, 3]]), np.array([[3, 2]]))
    np.testing.assert_array_equal(dup[0], [0, 1, 2, 3])  # draws among the replaced slots


def test_the_agent_gives_slots_to_exploration_and_replays_them_exactly(world: World) -> None:
    agent = TwoStage(world.observable, ARM, 4)
    req = requests(300, 110)
    rec = agent.recommend(req, np.random.default_rng(0))
    assert rec.candidates is not None
    assert rec.candidate_probs is not None
    plain = agent.retrieve(req.user_ids, req.n_items)
    np.testing.assert_array_equal(rec.candidates[:, :6], plain[:, :6])
    assert (rec.candidates[:, 6:] != plain[:, 6:]).mean() > 0.5
    assert all(len(set(row)) == 8 for row in rec.candidates.tolist())
    cand, probs = agent.action_distribution(req.user_ids, req.n_items, requests=req)
    np.testing.assert_array_equal(cand, rec.candidates)
    np.testing.assert_array_equal(probs, rec.candidate_probs)
    half, _ = agent.action_distribution(
        req.user_ids[100:], req.n_items, requests=req.take(slice(100, None))
    )
    np.testing.assert_array_equal(half, rec.candidates[100:])
    with pytest.raises(ValueError, match=r"requests is None.*2 exploration slots"):
        agent.action_distribution(req.user_ids, req.n_items)


def test_fresh_source_draws_the_songs_of_the_last_days(world: World) -> None:
    arm = replace(ARM, explore_source="fresh", fresh_days=2)
    agent = TwoStage(world.observable, arm, 4)
    minute = 2 * 1440 + 720  # the world releases songs on its days 0-2
    req = requests(200, world.n_items_at(minute), minute)
    cand = agent.candidates(req)
    plain = agent.retrieve(req.user_ids, req.n_items)
    explored = cand[:, 6:][cand[:, 6:] != plain[:, 6:]]
    low = world.n_items_at(minute - 2 * 1440)
    assert explored.size > 0
    assert 0 < low < req.n_items
    assert ((explored >= low) & (explored < req.n_items)).all()


def test_an_exploring_agent_passes_the_conformance_checks(world: World) -> None:
    check_recommender(TwoStage(world.observable, ARM, 4), world.observable)


@pytest.mark.parametrize(
    ("share", "message"),
    [
        (float("nan"), r"explore_share == nan, must be in \[0, 1\)"),
        (1.0, r"explore_share == 1.0, must be in \[0, 1\)"),
        (0.9, r"explore_share == 0.9, must leave at least one retrieved candidate"),
    ],
)
def test_bad_exploration_shares_are_one_line_errors(share: float, message: str) -> None:
    from simulator.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        ArmConfig(explore_share=share, n_candidates=4)
