"""Item appeal partly predictable from meta features and artist (issue 13, item 3).

The law (:mod:`simulator.world.population`): ``appeal = c (F^{-1}(Phi(z)) - 1)`` with
``z = sqrt(mu) M + sqrt(alpha) A + sqrt(1 - mu - alpha) eps``. The score ``z`` is
recovered from the appeal by inverting the transform. Bands are two-sided 99.9%.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import integrate, stats

from simulator.config import BehaviorConfig, ItemConfig, UserConfig, WorldConfig
from simulator.errors import ConfigError
from simulator.world.population import (
    ItemTable,
    draw_items,
    expected_exponential_of_normal_score,
    exponential_of_normal_score,
    normal_score_of_exponential,
)
from simulator.world.world import World

LEVEL = 0.999
Z = float(stats.norm.ppf(0.5 + LEVEL / 2))
N_ITEMS = 100_000
FEW_ARTISTS = 50  # Zipf-distributed (the default law): about 2,000 items per artist


def _items(icfg: ItemConfig, n: int = N_ITEMS, seed: int = 0) -> ItemTable:
    return draw_items(WorldConfig(n_items=n, items=icfg), 0, np.random.default_rng(seed))


def _score(items: ItemTable, icfg: ItemConfig) -> NDArray[np.float64]:
    return normal_score_of_exponential(items.appeal / icfg.appeal_scale + 1.0)


class _JointOLS:
    """OLS of a score on one-hot genre, mood, scene, language and artist (one design).

    The normal equations come from counts (``X'X`` of one-hot columns is a contingency
    table), so 100,000 rows never make a dense design matrix.
    """

    def __init__(self, items: ItemTable, icfg: ItemConfig) -> None:
        cards = (icfg.n_genres, icfg.n_moods, icfg.n_scenes, icfg.n_languages, icfg.n_artists)
        codes = np.column_stack([items.meta, items.artist_id])
        offsets = np.concatenate([[0], np.cumsum(cards)[:-1]])
        self.cols = codes + offsets
        self.p = int(sum(cards))
        xtx = np.zeros(self.p * self.p)
        for a in range(5):
            for b in range(5):
                xtx += np.bincount(
                    self.cols[:, a] * self.p + self.cols[:, b], minlength=self.p * self.p
                )
        self.rank = int(np.linalg.matrix_rank(xtx.reshape(self.p, self.p)))
        self.pinv = np.linalg.pinv(xtx.reshape(self.p, self.p))

    def components(self, z: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        """The fitted meta part and artist part (each up to a constant)."""
        xtz = sum(np.bincount(self.cols[:, a], weights=z, minlength=self.p) for a in range(5))
        beta = self.pinv @ xtz
        return beta[self.cols[:, :4]].sum(axis=1), beta[self.cols[:, 4]]


@pytest.mark.parametrize(("mu", "alpha"), [(0.3, 0.2), (0.1, 0.6)])
def test_joint_regression_recovers_the_shares(mu: float, alpha: float) -> None:
    icfg = ItemConfig(n_artists=FEW_ARTISTS, appeal_share_meta=mu, appeal_share_artist=alpha)
    items = _items(icfg)
    z = _score(items, icfg)
    ols = _JointOLS(items, icfg)
    assert ols.rank == ols.p - 4  # identified up to one constant per field
    meta_fit, artist_fit = ols.components(z)
    got = np.array([meta_fit.var(), artist_fit.var()])
    # Parametric bootstrap of the estimator given the design: refit on fitted + noise.
    fitted = meta_fit + artist_fit
    fitted += z.mean() - fitted.mean()
    sigma = (z - fitted).std()
    rng = np.random.default_rng(1)
    boot = np.array(
        [
            [c.var() for c in ols.components(fitted + sigma * rng.standard_normal(z.size))]
            for _ in range(60)
        ]
    )
    bias = boot.mean(axis=0) - got  # about sigma^2 * (columns of the part) / n
    se = boot.std(axis=0, ddof=1)
    assert (np.abs(got - bias - [mu, alpha]) < Z * se + 1e-4).all(), (got, bias, se)
    # The score is N(0, 1): var(z) within the sample variance's band (sd ~ sqrt(2 / n)
    # for the noise, plus its covariance with the features' part).
    var_se = np.sqrt((2 * (1 - mu - alpha) ** 2 + 4 * (1 - mu - alpha) * (mu + alpha)) / z.size)
    assert abs(z.var() - 1.0) < Z * var_se, z.var()
    # Given the features, the rest is Gaussian noise of variance 1 - mu - alpha.
    resid = (z - fitted) / np.sqrt(1.0 - mu - alpha)
    assert stats.kstest(resid, "norm").pvalue > 1 - LEVEL
    assert resid.var() == pytest.approx(1.0, abs=Z * np.sqrt(2 / z.size))


def test_old_law_marginal_is_exactly_the_power_law() -> None:
    icfg = ItemConfig(n_artists=FEW_ARTISTS, appeal_share_meta=0.0, appeal_share_artist=0.0)
    items = _items(icfg)
    assert stats.kstest(items.appeal / icfg.appeal_scale + 1.0, "expon").pvalue > 1 - LEVEL
    np.testing.assert_array_equal(items.appeal_meta, 0.0)


def test_new_draws_come_after_the_earlier_ones() -> None:
    old = ItemConfig(appeal_share_meta=0.0, appeal_share_artist=0.0)
    a, b = _items(old, 3000, 4), _items(ItemConfig(), 3000, 4)
    for name in ("release_minute", "meta", "artist_id", "seconds", "latent"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.appeal, b.appeal)
    # The same exponential draw: with no feature share the normal score is eps itself.
    eps = _score(a, old)
    z = _score(b, ItemConfig())
    assert np.corrcoef(eps, z)[0, 1] == pytest.approx(np.sqrt(0.5), abs=0.05)


def test_appeal_meta_is_the_conditional_mean() -> None:
    for sigma in (0.3, 0.7, 1.0):
        for c in (-4.0, -1.0, 0.0, 2.0, 5.0):
            exact, _ = integrate.quad(
                lambda e, c=c, sigma=sigma: (
                    float(exponential_of_normal_score(c + sigma * e)) * stats.norm.pdf(e)
                ),
                -40,
                40,
                epsabs=1e-13,
                epsrel=1e-12,
                limit=200,
            )
            got = float(expected_exponential_of_normal_score(np.array([c]), sigma)[0])
            assert got == pytest.approx(exact, rel=1e-9, abs=1e-12), (c, sigma)
    # On a catalogue: appeal - appeal_meta has mean 0 and no trend in appeal_meta (the
    # rows are independent given the features; normal bands from their own spread).
    icfg = ItemConfig(n_artists=FEW_ARTISTS)
    items = _items(icfg, 50_000, 2)
    resid = items.appeal - items.appeal_meta
    assert abs(resid.mean()) < Z * resid.std() / np.sqrt(resid.size)
    x = items.appeal_meta - items.appeal_meta.mean()
    slope = (x @ items.appeal) / (x @ x)
    slope_se = resid.std() / (x.std() * np.sqrt(x.size))
    assert abs(slope - 1.0) < Z * slope_se, (slope, slope_se)


def test_transforms_are_inverse_and_stable_in_the_tails() -> None:
    z = np.linspace(-8.0, 30.0, 2001)
    e = exponential_of_normal_score(z)
    np.testing.assert_allclose(normal_score_of_exponential(e), z, rtol=1e-9, atol=1e-9)
    mid = np.linspace(0.01, 20.0, 500)
    np.testing.assert_allclose(
        normal_score_of_exponential(mid),
        stats.norm.ppf(stats.expon.cdf(mid)),
        rtol=1e-9,
    )
    # Far tails, where 1 - exp(-e) or exp(-e) alone would round away.
    np.testing.assert_allclose(
        normal_score_of_exponential(np.array([1e-12, 700.0])),
        [stats.norm.ppf(1e-12), -stats.norm.ppf(np.exp(-700.0))],
        rtol=1e-9,
    )
    assert np.isfinite(exponential_of_normal_score(np.array([-40.0, 40.0]))).all()


def test_meta_affinity_is_the_whole_affinity_when_features_explain_all() -> None:
    cfg = WorldConfig(
        n_users=300,
        n_items=200,
        users=UserConfig(taste_idiosyncratic_share=0.0),
        items=ItemConfig(
            share_meta=0.6, share_artist=0.4, appeal_share_meta=0.7, appeal_share_artist=0.3
        ),
    )
    w = World.build(cfg, 1, 3)
    users, items = np.arange(50)[:, None], np.arange(80)[None, :]
    np.testing.assert_allclose(w.meta_affinity(users, items), w.affinity(users, items), atol=1e-5)


def test_meta_affinity_is_the_feature_part() -> None:
    w = World.build(WorldConfig(n_users=500, n_items=400), 1, 6)
    users, items = np.arange(60), np.arange(90)
    got = w.meta_affinity(users[:, None], items[None, :])
    assert got.shape == (60, 90)
    dot = w.users.taste_meta[users].astype(np.float64) @ w.items.latent_meta[items].T
    expect = (
        w.config.behavior.taste_scale * dot / np.sqrt(w.config.dim) + w.items.appeal_meta[items]
    )
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    # The tables keep the float conventions, and the parts are parts of the whole.
    assert w.users.taste_meta.dtype == np.float32
    assert w.items.latent_meta.dtype == np.float32
    assert w.items.appeal_meta.dtype == np.float64
    assert w.users.noise_rate.dtype == np.float64
    assert np.corrcoef(got.ravel(), w.affinity(users[:, None], items[None, :]).ravel())[0, 1] > 0.5


def test_world_with_the_new_tables_pickles() -> None:
    w = World.build(WorldConfig(n_users=500, n_items=400), 2, 8)
    data = pickle.dumps(w)
    tables = sum(
        v.nbytes for t in (w.users, w.items) for v in vars(t).values() if hasattr(v, "nbytes")
    )
    assert len(data) < 1.5 * tables + 100_000
    again = pickle.loads(data)
    keys = (np.arange(100), np.zeros(100, np.int64), np.zeros(100, np.int64), np.arange(100))
    users, items = np.arange(100), np.arange(100) % 400
    left = np.arange(100) % 3
    a, b = w.respond(users, items, keys, left), again.respond(users, items, keys, left)
    np.testing.assert_array_equal(a.noise_skip, b.noise_skip)
    np.testing.assert_array_equal(a.distraction_left, b.distraction_left)
    np.testing.assert_array_equal(w.meta_affinity(users, items), again.meta_affinity(users, items))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"appeal_share_meta": -0.1}, r"appeal_share_meta == -0\.1, must be in \[0, 1\]"),
        ({"appeal_share_artist": 1.5}, r"appeal_share_artist == 1\.5, must be in \[0, 1\]"),
        (
            {"appeal_share_meta": 0.7, "appeal_share_artist": 0.5},
            r"appeal_share_artist == 0\.5, appeal_share_meta \(0\.7\) \+ appeal_share_artist "
            r"must be <= 1",
        ),
    ],
)
def test_invalid_appeal_config(kwargs: dict[str, float], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        ItemConfig(**kwargs)


def test_degenerate_parts_give_their_share_to_the_noise() -> None:
    # One artist and one value per meta field: nothing to learn, the law stays Exp(1).
    icfg = ItemConfig(n_genres=1, n_moods=1, n_scenes=1, n_languages=1, n_artists=1)
    items = _items(icfg, 20_000, 5)
    assert stats.kstest(items.appeal / icfg.appeal_scale + 1.0, "expon").pvalue > 1 - LEVEL
    np.testing.assert_array_equal(items.appeal_meta, 0.0)
    assert BehaviorConfig().noise_rate_concentration == 4.0  # defaults named in the issue
    assert (ItemConfig().appeal_share_meta, ItemConfig().appeal_share_artist) == (0.3, 0.2)


@pytest.mark.slow
def test_marginal_over_worlds_is_the_power_law() -> None:
    """One item from each of many independent catalogues: the law of a song's appeal.

    Within one catalogue the score is a Gaussian mixture (the tables are finite); over
    worlds each part is N(0, 1) for every item, up to the standardisation over the
    catalogue, so the marginal is ``c (Exp(1) - 1)`` to within what 3,000 draws resolve.
    """
    icfg = ItemConfig(n_artists=40)
    rng = np.random.default_rng(12)
    draws = []
    for seed in range(3000):
        items = _items(icfg, 300, seed)
        draws.append(items.appeal[rng.integers(0, 300)])
    sample = np.array(draws) / icfg.appeal_scale + 1.0
    assert stats.kstest(sample, "expon").pvalue > 1 - LEVEL
