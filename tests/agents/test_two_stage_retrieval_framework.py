"""The two-stage agent with a framework on retrieval: factorised serving, no mask, learning."""

from __future__ import annotations

import pickle
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from adaf2m2.mask import FeatureMask
from adaf2m2.tower_adapter import TowerAdapter
from adaf2m2.trainable import PlainModel
from agents.retrieval import user_vectors
from agents.two_stage import TwoStage
from simulator.config import WorldConfig
from simulator.conformance import check_recommender
from simulator.experiment_config import ArmConfig
from simulator.world.world import World
from tests.agents.test_two_stage import feedback, requests

ARM = ArmConfig(
    n_candidates=8,
    hidden_dims=(16,),
    framework="none",
    retrieval_framework="adaf2m2",
    id_capacity=256,
)
LOSSES = ("pointwise", "sampled_softmax")


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(
        WorldConfig(n_users=200, n_items=120, new_users_per_day=10, new_items_per_day=5), 2, 0
    )


def trained(world: World, arm: ArmConfig, rounds: int = 3) -> TwoStage:
    agent = TwoStage(world.observable, arm, 0)
    users = np.arange(150, dtype=np.int64)
    for r in range(rounds):
        agent.observe(feedback(world, requests(world, 120, users, 150 * r), agent, r))
    losses = agent.train()
    assert np.isfinite(losses["retrieval"])
    assert np.isfinite(losses["rank"])
    return agent


@pytest.mark.parametrize("loss", LOSSES)
def test_serving_retrieval_stays_factorised(world: World, loss: str) -> None:
    agent = trained(world, replace(ARM, retrieval_loss=loss))  # type: ignore[arg-type]
    assert isinstance(agent.retrieval_adapter, TowerAdapter)
    rng = np.random.default_rng(0)
    users = np.arange(60, dtype=np.int64)
    # A user's vector does not depend on which item fills the row's item columns.
    u_a = agent._user_vectors(agent._embed(*agent._encode(users, np.zeros(60, np.int64))))
    u_b = agent._user_vectors(agent._embed(*agent._encode(users, rng.integers(0, 120, 60))))
    assert torch.equal(u_a, u_b)
    # The cached item table is the item vectors computed fresh, beside any users.
    table = agent._item_table(120)
    fresh_rows = agent._encode(rng.integers(0, 150, 120), np.arange(120, dtype=np.int64))
    fresh = agent._item_vectors(agent._embed(*fresh_rows))
    torch.testing.assert_close(table, fresh, rtol=0, atol=1e-6)
    # So top-N is one matrix product over the catalogue.
    top = torch.topk(u_a @ fresh.T, 8, dim=1, sorted=True).indices.numpy()
    np.testing.assert_array_equal(agent.retrieve(users, 120), top)
    # Not vacuous: the weights vary with the state and move the served user vectors.
    fields, counts = agent._encode(users, np.zeros(60, np.int64))
    batch = agent.spec.make_batch(fields, counts)
    with torch.no_grad():
        v = agent.retrieval_model.embed(batch)
        w = agent.retrieval_adapter(v, batch.counts)
        bare = user_vectors(agent.retrieval_model, v)
    assert float(w.std(dim=0).max()) > 0
    assert not torch.allclose(user_vectors(agent.retrieval_model, w.unsqueeze(-1) * v), bare)


@pytest.mark.parametrize("loss", LOSSES)
def test_serving_never_calls_the_mask(
    world: World, loss: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"mask": 0}
    original = FeatureMask.forward

    def counting(self: FeatureMask, *args: Any, **kwargs: Any) -> Any:
        calls["mask"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FeatureMask, "forward", counting)
    agent = TwoStage(world.observable, replace(ARM, retrieval_loss=loss), 0)  # type: ignore[arg-type]
    users = np.arange(150, dtype=np.int64)
    req = requests(world, 120, users)
    fb = feedback(world, req, agent, 0)
    agent.action_distribution(users, 120, requests=req)
    agent.serving_snapshot().recommend(req, np.random.default_rng(1))
    assert calls["mask"] == 0  # serving: retrieval, ranking, snapshots
    agent.observe(fb)
    agent.train()
    assert calls["mask"] > 0  # the counter works: training masks retrieval's copies


@pytest.mark.parametrize("loss", LOSSES)
def test_an_agent_with_adaf2m2_on_retrieval_learns_and_snapshots(world: World, loss: str) -> None:
    arm = replace(ARM, retrieval_loss=loss)  # type: ignore[arg-type]
    agent = TwoStage(world.observable, arm, 0)
    users = np.arange(150, dtype=np.int64)
    before = agent.retrieve(users, 120)
    params = {n: p.detach().clone() for n, p in agent.retriever.named_parameters()}
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for r in range(3):
        fb = feedback(world, requests(world, 120, users, 150 * r), agent, r)
        agent.observe(fb)
        fields, counts = agent._encode(users, fb.recommendation.item_ids)
        rows.append((fields, counts, agent.retrieval_labels(fb)))
    losses = agent.train()
    assert np.isfinite(losses["retrieval"])
    assert losses["retrieval"] > 0
    parts = agent.retriever.last_parts_
    assert parts is not None  # the masked copies were trained on
    assert parts.aux > 0
    # Embeddings, towers, [MASK] and both sides' adapters moved (the two-tower's logit bias
    # is no part of the sampled softmax's cosine scores).
    unused = {"base.bias"} if loss == "sampled_softmax" else set()
    for name, p in agent.retriever.named_parameters():
        assert torch.equal(params[name], p) == (name in unused), name
    assert not np.array_equal(agent.retrieve(users, 120), before)
    # Learns: more passes over the same examples lower its loss.
    fields, counts, labels = (np.concatenate(x) for x in zip(*rows, strict=True))
    curve = [agent.retrieval_learner.fit(fields, counts, labels, 1) for _ in range(4)]
    assert curve[-1] < curve[0], curve
    # The serving snapshot (pickled, as the engine writes it) serves exactly as the agent.
    agent.train()  # drop the item cache: the snapshot rebuilds it from its own copy
    snapshot = pickle.loads(pickle.dumps(agent.serving_snapshot()))
    assert not hasattr(snapshot, "retriever")
    assert not hasattr(snapshot, "retrieval_learner")
    assert isinstance(snapshot.retrieval_adapter, TowerAdapter)
    np.testing.assert_array_equal(snapshot.retrieve(users, 120), agent.retrieve(users, 120))
    req = requests(world, 120, users, 10_000)
    cand, probs = agent.action_distribution(users, 120, requests=req)
    snap_cand, snap_probs = snapshot.action_distribution(users, 120, requests=req)
    np.testing.assert_array_equal(snap_cand, cand)
    np.testing.assert_allclose(snap_probs, probs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("retrieval_framework", ["adaf2m2", "ssl_mask"])
def test_an_agent_with_a_retrieval_framework_passes_the_conformance_checks(
    world: World, retrieval_framework: str
) -> None:
    arm = replace(ARM, retrieval_framework=retrieval_framework)  # type: ignore[arg-type]
    check_recommender(trained(world, arm, rounds=1), world.observable)


def test_the_retrieval_framework_moves_no_other_draw(world: World) -> None:
    # Its seed is a child of the agent's stream (spawned only when used): the base models'
    # initial weights and the exploration seed are those of the bare agent.
    bare = TwoStage(world.observable, replace(ARM, retrieval_framework="none"), 3)
    armed = TwoStage(world.observable, ARM, 3)
    assert isinstance(bare.retriever, PlainModel)
    assert bare.retrieval_adapter is None
    for a, b in (
        (bare.retrieval_model, armed.retrieval_model),
        (bare.ranker, armed.ranker),
    ):
        assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert bare.explore_seed == armed.explore_seed
