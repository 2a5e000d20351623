"""Built-in policies: exact propensities, the oracle's optimality, recommender conformance."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.config import WorldConfig
from simulator.errors import ConfigError
from simulator.policies import OraclePolicy, PopularPolicy, RandomPolicy, make_policy
from simulator.types import FeedbackBatch, Recommendation, Recommender, RequestBatch
from simulator.world.world import World

W = World.build(WorldConfig(n_users=300, n_items=200, new_users_per_day=0.0, dim=4), 1, 0)


def _requests(n: int, n_items: int, users: np.ndarray | None = None) -> RequestBatch:
    u = np.arange(n, dtype=np.int64) % 300 if users is None else users
    return RequestBatch(0, 0, "a", u, np.arange(n), np.zeros(n, np.int64), n_items)


def _feedback(req: RequestBatch, rec: Recommendation, finish: np.ndarray) -> FeedbackBatch:
    z = np.zeros(len(req), dtype=bool)
    s = np.full(len(req), 100.0)
    return FeedbackBatch(req, rec, s, s, finish, ~finish, z, z, z)


def check_recommender(make: object) -> None:
    """Same rng seed -> same items; items in range; pscore in (0, 1]; protocol satisfied."""
    a, b = make(), make()  # type: ignore[operator]
    assert isinstance(a, Recommender)
    req = _requests(500, 150)
    ra = a.recommend(req, np.random.default_rng(1))
    rb = b.recommend(req, np.random.default_rng(1))
    np.testing.assert_array_equal(ra.item_ids, rb.item_ids)
    assert ra.item_ids.dtype == np.int64
    assert ra.item_ids.shape == (500,)
    assert ra.item_ids.min() >= 0
    assert ra.item_ids.max() < 150
    assert ((ra.pscore > 0) & (ra.pscore <= 1)).all()
    a.observe(_feedback(req, ra, np.ones(500, bool)))


@pytest.mark.parametrize("name", ["random", "popular", "oracle"])
def test_check_recommender(name: str) -> None:
    check_recommender(lambda: make_policy(name, W))


def test_random_pscore_is_uniform() -> None:
    rec = RandomPolicy().recommend(_requests(100, 37), np.random.default_rng(0))
    np.testing.assert_allclose(rec.pscore, 1 / 37)


def test_popular_pscore_is_the_exact_sampling_probability() -> None:
    pol = PopularPolicy(power=1.5, prior=0.5)
    req = _requests(4, 6)
    items = np.array([0, 0, 2, 5])
    rec = Recommendation(items, np.full(4, 0.1))
    pol.observe(_feedback(req, rec, np.array([True, True, True, False])))
    # counts (2, 0, 1, 0, 0, 0) + 0.5, to the power 1.5 (hand calculation)
    w = np.array([2.5, 0.5, 1.5, 0.5, 0.5, 0.5]) ** 1.5
    np.testing.assert_allclose(pol.probabilities(6), w / w.sum())
    big = pol.recommend(_requests(200_000, 6), np.random.default_rng(3))
    np.testing.assert_allclose(big.pscore, (w / w.sum())[big.item_ids])
    freq = np.bincount(big.item_ids, minlength=6) / 200_000
    # 5 standard errors of a multinomial share
    se = np.sqrt(w / w.sum() * (1 - w / w.sum()) / 200_000)
    assert (np.abs(freq - w / w.sum()) < 5 * se).all()


def test_popular_signal_impressions_counts_every_impression() -> None:
    pol = PopularPolicy(power=1.0, prior=1.0, signal="impressions")
    req = _requests(3, 4)
    pol.observe(
        _feedback(req, Recommendation(np.array([1, 1, 3]), np.ones(3) / 4), np.zeros(3, bool))
    )
    np.testing.assert_allclose(pol.probabilities(4), np.array([1, 3, 1, 2]) / 7)


def test_oracle_picks_the_true_top_items() -> None:
    users = np.arange(50, dtype=np.int64)
    rec = OraclePolicy(W, top_k=1).recommend(_requests(50, 200, users), np.random.default_rng(0))
    best = W.affinity_matrix(users, 200).argmax(axis=1)
    np.testing.assert_array_equal(rec.item_ids, best)
    np.testing.assert_allclose(rec.pscore, 1.0)
    k5 = OraclePolicy(W, top_k=5).recommend(_requests(50, 200, users), np.random.default_rng(0))
    top5 = np.argsort(-W.affinity_matrix(users, 200), axis=1)[:, :5]
    assert all(k5.item_ids[i] in top5[i] for i in range(50))
    np.testing.assert_allclose(k5.pscore, 0.2)
    # More items than the catalogue holds: sample among all of them.
    small = OraclePolicy(W, top_k=10).recommend(_requests(5, 3), np.random.default_rng(0))
    assert small.item_ids.max() < 3
    assert np.allclose(small.pscore, 1 / 3)


def test_oracle_refreshes_when_the_catalogue_grows() -> None:
    pol = OraclePolicy(W, top_k=1)
    users = np.arange(20, dtype=np.int64)
    first = pol.recommend(_requests(20, 10, users), np.random.default_rng(0)).item_ids
    assert first.max() < 10
    later = pol.recommend(_requests(20, 200, users), np.random.default_rng(0)).item_ids
    np.testing.assert_array_equal(later, W.affinity_matrix(users, 200).argmax(axis=1))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: PopularPolicy(power=-1.0), r"power == -1\.0, must be >= 0"),
        (lambda: PopularPolicy(prior=0.0), r"prior == 0\.0, must be > 0"),
        (lambda: PopularPolicy(signal="likes"), r"signal == 'likes'"),  # type: ignore[arg-type]
        (lambda: OraclePolicy(W, top_k=0), r"top_k == 0, must be >= 1"),
        (lambda: make_policy("greedy", W), r"policy == 'greedy'"),
    ],
)
def test_invalid_policy_arguments(call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()  # type: ignore[operator]
