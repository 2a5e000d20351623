"""The two-stage agent: valid recommendations with exact propensities, learning, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from agents.two_stage import TwoStage
from simulator.config import WorldConfig
from simulator.experiment_config import ArmConfig
from simulator.types import FeedbackBatch, RequestBatch
from simulator.world.world import World

ARM = ArmConfig(n_candidates=8, hidden_dims=(16,), framework="adaf2m2", id_capacity=256)


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(
        WorldConfig(n_users=200, n_items=120, new_users_per_day=10, new_items_per_day=5), 2, 0
    )


def requests(world: World, n_items: int, users: np.ndarray, first_session: int = 0) -> RequestBatch:
    """One step-0 request per user, with session ids from ``first_session`` on."""
    n = users.size
    return RequestBatch(
        minute=0,
        day=0,
        arm="treatment",
        user_ids=users,
        session_ids=np.arange(first_session, first_session + n, dtype=np.int64),
        steps=np.zeros(n, dtype=np.int64),
        n_items=n_items,
    )


def feedback(world: World, req: RequestBatch, agent: TwoStage, seed: int = 1) -> FeedbackBatch:
    """The world's answer to the agent's recommendation for ``req`` (serving drawn from ``seed``)."""
    rec = agent.recommend(req, np.random.default_rng(seed))
    resp = world.respond(req.user_ids, rec.item_ids, (req.user_ids, req.session_ids))
    return FeedbackBatch(
        requests=req,
        recommendation=rec,
        listen_seconds=resp.listen_seconds,
        item_seconds=world.items.seconds[rec.item_ids],
        finish=resp.finish,
        skip=resp.skip,
        like=resp.like,
        comment=resp.comment,
        dislike=resp.dislike,
    )


def test_recommendation_contract(world: World) -> None:
    agent = TwoStage(world.observable, ARM, 0)
    users = np.arange(50, dtype=np.int64)
    req = requests(world, 100, users)
    rec = agent.recommend(req, np.random.default_rng(0))
    assert rec.item_ids.shape == (50,)
    assert ((rec.item_ids >= 0) & (rec.item_ids < 100)).all()
    assert rec.candidates is not None
    assert rec.candidate_probs is not None
    assert rec.candidates.shape == (50, 8)
    assert all(len(set(row)) == 8 for row in rec.candidates.tolist())  # distinct candidates
    np.testing.assert_allclose(rec.candidate_probs.sum(axis=1), 1.0, atol=1e-12)
    chosen = (rec.candidates == rec.item_ids[:, None]).argmax(axis=1)
    np.testing.assert_array_equal(rec.pscore, rec.candidate_probs[np.arange(50), chosen])
    cand, probs = agent.action_distribution(users, 100, requests=req)
    np.testing.assert_array_equal(cand, rec.candidates)
    np.testing.assert_array_equal(probs, rec.candidate_probs)


def test_same_seed_same_choices_other_seed_differs(world: World) -> None:
    users = np.arange(60, dtype=np.int64)
    a = TwoStage(world.observable, ARM, 5).recommend(
        requests(world, 110, users), np.random.default_rng(2)
    )
    b = TwoStage(world.observable, ARM, 5).recommend(
        requests(world, 110, users), np.random.default_rng(2)
    )
    c = TwoStage(world.observable, ARM, 6).recommend(
        requests(world, 110, users), np.random.default_rng(2)
    )
    np.testing.assert_array_equal(a.item_ids, b.item_ids)
    assert not np.array_equal(a.candidates, c.candidates)


def test_learns_from_feedback_and_serves_new_ids(world: World) -> None:
    agent = TwoStage(world.observable, ARM, 0)
    users = np.arange(150, dtype=np.int64)
    for _ in range(3):
        agent.observe(feedback(world, requests(world, 120, users), agent))
    assert agent.rank_learner.n_pending == 450
    losses = agent.train()
    assert np.isfinite(losses["rank"])
    assert np.isfinite(losses["retrieval"])
    assert agent.rank_learner.n_pending == 0
    # A user id beyond the embedding capacity shares the OOV row: served, no error.
    late = np.array([world.n_users_total - 1], dtype=np.int64)
    rec = agent.recommend(requests(world, world.n_items_total, late), np.random.default_rng(0))
    assert 0 <= rec.item_ids[0] < world.n_items_total


def test_sampled_softmax_retrieval_learns_online_and_snapshots_without_learners(
    world: World,
) -> None:
    import pickle
    from dataclasses import replace

    from agents.sampled_softmax import SampledSoftmax

    arm = replace(ARM, retrieval_loss="sampled_softmax", rowwise_embeddings=True)
    agent = TwoStage(world.observable, arm, 0)
    assert isinstance(agent.retriever, SampledSoftmax)
    users = np.arange(150, dtype=np.int64)
    before = agent.retrieve(users, 120)
    for _ in range(3):
        agent.observe(feedback(world, requests(world, 120, users), agent))
    assert agent.positives.total > 0
    assert agent.n_items_seen == 120
    losses = agent.train()
    assert np.isfinite(losses["retrieval"])
    assert losses["retrieval"] > 0
    assert not np.array_equal(agent.retrieve(users, 120), before)
    snapshot = pickle.loads(pickle.dumps(agent.serving_snapshot()))
    assert not hasattr(snapshot, "retrieval_learner")
    assert not hasattr(snapshot, "retriever")
    np.testing.assert_array_equal(snapshot.retrieve(users, 120), agent.retrieve(users, 120))
