"""``check_recommender``: every built-in policy passes; each check catches its own breakage."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from simulator.config import WorldConfig
from simulator.conformance import (
    CHECKS,
    ConformanceError,
    ConformanceReport,
    check_recommender,
)
from simulator.policies import OraclePolicy, PopularPolicy, RandomPolicy
from simulator.types import FeedbackBatch, Recommendation, Recommender, RequestBatch
from simulator.world.world import World


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(WorldConfig(n_users=80, n_items=40, dim=8), 2, 7)


BUILT_IN: dict[str, Callable[[World], Recommender]] = {
    "random": lambda w: RandomPolicy(),
    "popular": lambda w: PopularPolicy(),
    "popular_impressions": lambda w: PopularPolicy(power=2.0, signal="impressions"),
    "oracle": lambda w: OraclePolicy(w, top_k=5),
    "oracle_top_1": lambda w: OraclePolicy(w, top_k=1),
}


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_built_in_policy_conforms(world: World, name: str) -> None:
    report = check_recommender(BUILT_IN[name](world), world.observable)
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == list(CHECKS)
    assert "FAIL" not in str(report)


def test_the_agent_checked_is_left_as_it_was(world: World) -> None:
    agent = PopularPolicy()
    check_recommender(agent, world.observable)
    assert agent.counts_.size == 0  # the checks observed copies, never the agent


class _Base:
    """Uniform over the catalogue, correct in every respect; subclasses break one rule."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        n = len(requests)
        items = np.minimum(
            (rng.random(n) * requests.n_items).astype(np.int64), requests.n_items - 1
        )
        return Recommendation(items, np.full(n, 1.0 / requests.n_items))

    def observe(self, feedback: FeedbackBatch) -> None:
        pass


_CLOCK = [0]


class Unseeded(_Base):
    """Draws from a generator of its own that goes on between copies."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        _CLOCK[0] += 1
        return super().recommend(requests, np.random.default_rng(_CLOCK[0]))


class PscoreZero(_Base):
    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        rec = super().recommend(requests, rng)
        return Recommendation(rec.item_ids, np.zeros(len(requests)))


class InexactPscore(_Base):
    """Says which candidates it chose among, but records a pscore that is not theirs."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        n = len(requests)
        cand = np.tile(np.arange(2, dtype=np.int64), (n, 1))
        probs = np.tile([0.25, 0.75], (n, 1))
        return Recommendation(np.zeros(n, dtype=np.int64), np.full(n, 0.5), cand, probs)


class OffCatalogue(_Base):
    """Recommends the next song to be released (not out yet)."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        rec = super().recommend(requests, rng)
        return Recommendation(np.full(len(requests), requests.n_items), rec.pscore)


class BatchDependent(_Base):
    """Uniform over as many songs as there are requests in the batch."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        n = len(requests)
        k = min(n, requests.n_items)
        return Recommendation(np.zeros(n, dtype=np.int64), np.full(n, 1.0 / k))


class BatchDependentDistribution(_Base):
    """Recommends correctly, but its OPE distribution mixes the rows of a batch."""

    def action_distribution(self, user_ids: Any, n_items: int) -> tuple[Any, Any]:
        b = user_ids.shape[0]
        cand = np.tile(np.arange(2, dtype=np.int64), (b, 1)) + int(user_ids.sum() % 2)
        return cand, np.full((b, 2), 0.5)


class Raises(_Base):
    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        raise RuntimeError("model not loaded")


BROKEN: list[tuple[Recommender, set[str], str]] = [
    # (agent, the checks it fails, pattern of the failure message)
    (Unseeded(), {"deterministic"}, r"deterministic: two copies .* differ in batch 0"),
    (PscoreZero(), {"pscore"}, r"pscore: pscore\[0\] == 0\.0, must be in \(0, 1\]"),
    (InexactPscore(), {"pscore"}, r"pscore\[0\] == 0\.5, but its item has probability 0\.25"),
    (OffCatalogue(), {"catalogue"}, r"catalogue: item_ids\[0\] == (\d+), must be in \[0, \1\)"),
    (
        BatchDependent(),
        {"batch_size"},
        r"request 0 gets pscore 0\.015625 .* of 64 but 0\.03125 in a batch of 32",
    ),
    (BatchDependentDistribution(), {"batch_size"}, r"action_distribution of 64 users differs"),
    (Raises(), set(CHECKS), r"raised RuntimeError: model not loaded"),
]


@pytest.mark.parametrize(("agent", "failed", "message"), BROKEN)
def test_each_check_catches_its_breakage(
    world: World, agent: Recommender, failed: set[str], message: str
) -> None:
    with pytest.raises(ConformanceError, match=message) as info:
        check_recommender(agent, world.observable)
    report = info.value.report
    assert {c.name for c in report.checks if not c.passed} == failed
    assert str(info.value).count("\n") == len(failed)  # a header, one line per failure


def test_report_without_raising(world: World) -> None:
    report = check_recommender(PscoreZero(), world.observable, raise_on_failure=False)
    assert isinstance(report, ConformanceReport)
    assert not report.passed
    rows = {r["name"]: r for r in report.to_dicts()}
    assert rows["pscore"]["passed"] is False
    assert rows["catalogue"]["passed"] is True
    assert re.search(r"\npscore +FAIL pscore\[0\] == 0\.0, must be in", str(report))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_requests": 1}, r"n_requests == 1, must be >= 2"), ({"n_batches": 0}, r"n_batches == 0")],
)
def test_invalid_arguments(world: World, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_recommender(RandomPolicy(), world.observable, **kwargs)  # type: ignore[arg-type]
