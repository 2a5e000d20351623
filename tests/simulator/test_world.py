"""``check_world``: a conformance suite for worlds, run over several configs; invariants."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import EngineConfig, WorldConfig
from simulator.engine.engine import Engine
from simulator.policies import OraclePolicy, PopularPolicy, RandomPolicy
from simulator.types import ObservableWorld, Recommender
from simulator.world.world import World

SMALL = WorldConfig(n_users=400, n_items=300, new_users_per_day=20.0, new_items_per_day=10.0)
WORLDS: dict[str, WorldConfig] = {
    "small": SMALL,
    "tiny_dim": WorldConfig(n_users=100, n_items=50, dim=2, new_users_per_day=0.0),
    "no_idio": WorldConfig(
        n_users=200,
        n_items=100,
        new_items_per_day=0.0,
        items=SMALL.items.__class__(share_meta=0.6, share_artist=0.4, n_artists=20),
    ),
}


def check_world(make: Callable[[int], World], n_days: int) -> None:
    """Conformance checks every world must pass.

    * the same seed gives the same world and responses, another seed a different one;
    * responses do not depend on batch size or row order (common random numbers);
    * ids follow arrival order and the observable view exposes no ground truth;
    * expected responses are probabilities and listen times within the song length.
    """
    a, b, c = make(1), make(1), make(2)
    np.testing.assert_array_equal(a.users.taste, b.users.taste)
    np.testing.assert_array_equal(a.items.appeal, b.items.appeal)
    assert a.noise.seed == b.noise.seed
    assert a.noise.seed != c.noise.seed
    assert not np.array_equal(a.users.taste[:10], c.users.taste[:10])

    rng = np.random.default_rng(0)
    n = 3000
    users = rng.integers(0, min(a.n_users_total, c.n_users_total), n)
    items = rng.integers(0, min(a.n_items_total, c.n_items_total), n)
    keys = (users, rng.integers(0, n_days, n), rng.integers(0, 3, n), rng.integers(0, 20, n))
    whole = a.respond(users, items, keys)
    again = b.respond(users, items, keys)
    other = c.respond(users, items, keys)
    np.testing.assert_array_equal(whole.listen_seconds, again.listen_seconds)
    assert not np.array_equal(whole.listen_seconds, other.listen_seconds)
    perm = rng.permutation(n)
    for lo in range(0, n, 1000):
        rows = perm[lo : lo + 1000]
        part = a.respond(users[rows], items[rows], tuple(k[rows] for k in keys))
        np.testing.assert_array_equal(part.listen_seconds, whole.listen_seconds[rows])
        np.testing.assert_array_equal(part.like, whole.like[rows])
        np.testing.assert_array_equal(part.noise_skip, whole.noise_skip[rows])

    assert (np.diff(a.users.registration_minute) >= 0).all()
    assert (np.diff(a.items.release_minute) >= 0).all()
    obs = a.observable
    assert isinstance(obs, ObservableWorld)
    public = {name for name in dir(obs) if not name.startswith("_")}
    assert not public & {"users", "items", "taste", "latent", "appeal", "affinity", "noise"}
    uf = obs.user_features(np.arange(5))
    assert uf.shape == (5, len(obs.user_fields))
    assert (uf[:, 0] == np.arange(5)).all()
    itf = obs.item_features(np.arange(5))
    assert itf.shape == (5, len(obs.item_fields))
    assert (itf[:, 0] == np.arange(5)).all()
    for fields, table in (
        (obs.user_fields, obs.user_features(np.arange(a.n_users_total))),
        (obs.item_fields, obs.item_features(np.arange(a.n_items_total))),
    ):
        for j, f in enumerate(fields):
            assert table[:, j].min() >= 0, f.name
            assert table[:, j].max() < f.vocab_size, f.name
    for minute in (-1, 0, 700, 1440 * n_days - 1):
        assert obs.n_users_at(minute) == int((a.users.registration_minute <= minute).sum())
        assert obs.n_items_at(minute) == int((a.items.release_minute <= minute).sum())

    e = a.expected_response(users, items)
    for key in ("finish_prob", "like_prob", "comment_prob", "dislike_prob", "skip_prob"):
        assert ((e[key] >= 0) & (e[key] <= 1)).all(), key
    assert ((e["listen_seconds"] > 0) & (e["listen_seconds"] <= a.items.seconds[items])).all()


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_check_world(name: str) -> None:
    check_world(lambda seed: World.build(WORLDS[name], 3, seed), n_days=3)


def test_build_accepts_every_rng_kind() -> None:
    w1 = World.build(SMALL, 2, np.random.SeedSequence(5))
    w2 = World.build(SMALL, 2, 5)
    np.testing.assert_array_equal(w1.users.taste, w2.users.taste)
    w3 = World.build(SMALL, 2, np.random.default_rng(5))
    assert w3.n_users_total > 0
    with pytest.raises(ValueError, match="n_days == -1"):
        World.build(SMALL, -1, 0)


def test_daily_arrivals_follow_the_configured_rate() -> None:
    cfg = WorldConfig(n_users=100, n_items=50, new_users_per_day=50.0, new_items_per_day=5.0)
    w = World.build(cfg, 40, 3)
    days = w.users.registration_day
    per_day = np.bincount(days[days >= 0], minlength=40)
    assert (per_day > 0).all()  # P(Poisson(50) = 0) = e^-50
    # Sum of 40 Poisson(50) is Poisson(2000): exact 99.9% band.
    from scipy import stats

    lo, hi = stats.poisson.ppf([0.0005, 0.9995], 2000)
    assert lo <= per_day.sum() <= hi
    assert (days[:100] < 0).all()
    assert (w.items.release_minute[w.items.release_day >= 0] % 1440 == 0).all()


def test_expected_response_pairwise_and_matrix_agree() -> None:
    w = World.build(SMALL, 1, 0)
    users = np.array([0, 5, 9])
    mat = w.affinity_matrix(users, 40)
    pair = w.affinity(users[:, None], np.arange(40)[None, :])
    np.testing.assert_allclose(mat, pair, rtol=1e-5, atol=1e-5)
    e = w.expected_response(users[:, None], np.arange(40)[None, :])
    assert e["finish_prob"].shape == (3, 40)


@settings(max_examples=25, deadline=None)
@given(
    n_users=st.integers(1, 60),
    n_items=st.integers(1, 40),
    new_items=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**32),
    policy=st.sampled_from(["random", "popular", "oracle"]),
)
def test_world_never_emits_an_item_outside_the_catalogue(
    n_users: int, n_items: int, new_items: float, seed: int, policy: str
) -> None:
    cfg = WorldConfig(
        n_users=n_users,
        n_items=n_items,
        new_users_per_day=2.0,
        new_items_per_day=new_items,
        dim=4,
    )
    w = World.build(cfg, 2, seed)
    pols: dict[str, Recommender] = {
        "random": RandomPolicy(),
        "popular": PopularPolicy(1.5),
        "oracle": OraclePolicy(w, 3),
    }
    pol = pols[policy]
    seen: list[tuple[int, int]] = []

    class Spy:
        def recommend(self, requests, rng):  # type: ignore[no-untyped-def]
            rec = pol.recommend(requests, rng)
            seen.append((int(rec.item_ids.max()), requests.n_items))
            return rec

        def observe(self, feedback):  # type: ignore[no-untyped-def]
            items = feedback.recommendation.item_ids
            assert items.min() >= 0
            assert items.max() < w.n_items_at(feedback.requests.minute)
            pol.observe(feedback)

    Engine(w, {"a": Spy()}, config=EngineConfig(progress=False, bucket_minutes=120), rng=seed).run(
        2
    )
    assert all(top < n for top, n in seen)
    assert all(n <= w.n_items_total for _, n in seen)
