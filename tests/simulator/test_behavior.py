"""Responses: drawn rates match the closed-form expectation; shapes of the response."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.config import BehaviorConfig
from simulator.world.behavior import draw_response, expected_response, sigmoid
from simulator.world.noise import Noise

N = 100_000


def _band(p: float, n: int, level: float = 0.999) -> tuple[float, float]:
    """Exact binomial acceptance band for a share of ``n`` Bernoulli(p) trials."""
    lo = stats.binom.ppf((1 - level) / 2, n, p) / n
    hi = stats.binom.ppf(1 - (1 - level) / 2, n, p) / n
    return float(lo), float(hi)


@pytest.mark.parametrize("affinity", [-2.0, 0.0, 1.5])
def test_drawn_rates_match_expected_response(affinity: float) -> None:
    # One stateless draw per row: with episodes of length 1 the noise is stationary from
    # the first step (longer episodes: tests/simulator/test_noise_episodes.py).
    cfg = BehaviorConfig(noise_episode_mean_length=1.0)
    a = np.full(N, affinity)
    seconds = np.full(N, 200.0)
    keys = (np.arange(N), np.zeros(N, np.int64), np.zeros(N, np.int64), np.zeros(N, np.int64))
    r = draw_response(a, seconds, cfg, Noise(4).draws(*keys))
    e = {k: float(v[0]) for k, v in expected_response(a[:1], seconds[:1], cfg).items()}
    for key, drawn in [
        ("finish_prob", r.finish),
        ("like_prob", r.like),
        ("comment_prob", r.comment),
        ("dislike_prob", r.dislike),
    ]:
        lo, hi = _band(e[key], N)
        assert lo <= drawn.mean() <= hi, (key, drawn.mean(), (lo, hi))
    lo, hi = _band(cfg.noise_skip_rate, N)
    assert lo <= r.noise_skip.mean() <= hi
    # Listen time: CLT band of 4 standard errors around the closed-form mean.
    se = r.listen_seconds.std() / np.sqrt(N)
    assert abs(r.listen_seconds.mean() - e["listen_seconds"]) < 4 * se


def test_response_logic() -> None:
    cfg = BehaviorConfig(noise_skip_rate=0.3, noise_episode_mean_length=1.0)
    n = 20_000
    a = np.linspace(-3, 3, n)
    seconds = np.full(n, 180.0)
    r = draw_response(a, seconds, cfg, Noise(1).draws(np.arange(n)))
    assert not (r.finish & r.noise_skip).any()
    np.testing.assert_array_equal(r.skip, ~r.finish)
    assert not (r.like & ~r.finish).any()
    assert not (r.comment & ~r.finish).any()
    assert not (r.dislike & (r.finish | r.noise_skip)).any()
    np.testing.assert_array_equal(r.listen_seconds[r.finish], seconds[r.finish])
    assert (r.listen_seconds[r.skip] < seconds[r.skip]).all()
    assert (r.listen_seconds[r.noise_skip] <= cfg.noise_listen_fraction * 180.0).all()
    np.testing.assert_allclose(r.finish_prob, 0.7 * sigmoid(cfg.finish_slope * a + cfg.finish_bias))


def test_expected_response_rises_with_affinity() -> None:
    cfg = BehaviorConfig()
    a = np.linspace(-4, 4, 101)
    e = expected_response(a, np.full(101, 200.0), cfg)
    for key in ("finish_prob", "listen_seconds", "like_prob", "comment_prob"):
        assert (np.diff(e[key]) > 0).all(), key
    assert (np.diff(e["dislike_prob"]) < 0).all()
    np.testing.assert_allclose(e["finish_prob"] + e["skip_prob"], 1.0)


def test_sigmoid_matches_scipy() -> None:
    from scipy.special import expit

    x = np.linspace(-50, 50, 1001)
    np.testing.assert_allclose(sigmoid(x), expit(x), rtol=1e-12, atol=1e-15)
