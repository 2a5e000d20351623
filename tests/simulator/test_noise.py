"""Common random numbers: purity, range, batch invariance, uniformity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.world.noise import KeyedDraws, Noise, hash64, tag_code, uniform


def test_uniform_is_a_pure_function_of_its_keys() -> None:
    users = np.arange(1000)
    a = uniform(11, "finish", users, 3, 2, 5)
    b = uniform(11, "finish", users, 3, 2, 5)
    np.testing.assert_array_equal(a, b)
    assert (a > 0).all()
    assert (a < 1).all()


@pytest.mark.parametrize(
    ("other", "what"),
    [
        ({"seed": 12}, "seed"),
        ({"tag": "like"}, "tag"),
        ({"day": 4}, "day"),
    ],
)
def test_any_key_change_gives_new_numbers(other: dict[str, object], what: str) -> None:
    args: dict[str, object] = {"seed": 11, "tag": "finish", "day": 3}
    base = uniform(args["seed"], args["tag"], np.arange(2000), args["day"])  # type: ignore[arg-type]
    args.update(other)
    changed = uniform(args["seed"], args["tag"], np.arange(2000), args["day"])  # type: ignore[arg-type]
    # Two independent U(0,1) samples coincide with probability 0; allow no equal pair.
    assert (base != changed).all(), what


def test_batch_split_and_order_do_not_change_numbers() -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 10**6, size=5000)
    steps = rng.integers(0, 50, size=5000)
    whole = uniform(5, "quit", users, 1, 0, steps)
    parts = np.concatenate(
        [
            uniform(5, "quit", users[i : i + 700], 1, 0, steps[i : i + 700])
            for i in range(0, 5000, 700)
        ]
    )
    np.testing.assert_array_equal(whole, parts)
    perm = rng.permutation(5000)
    np.testing.assert_array_equal(whole[perm], uniform(5, "quit", users[perm], 1, 0, steps[perm]))


def test_keyed_draws_equal_single_draws() -> None:
    keys = (np.arange(100), 2, np.arange(100) % 3, 7)
    draws = KeyedDraws(9, *keys)
    for tag in ("finish", "like", "noise_skip"):
        np.testing.assert_array_equal(draws.uniform(tag), uniform(9, tag, *keys))
    np.testing.assert_array_equal(Noise(9).draws(*keys).uniform("like"), uniform(9, "like", *keys))


def test_uniforms_pass_kolmogorov_smirnov_and_tags_are_uncorrelated() -> None:
    users = np.arange(200_000)
    u = uniform(3, "finish", users, 0, 0, 0)
    # alpha = 0.001: a correct generator fails this one time in a thousand.
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    v = uniform(3, "like", users, 0, 0, 0)
    r = np.corrcoef(u, v)[0, 1]
    # Under independence r ~ N(0, 1/n); 4 standard errors.
    assert abs(r) < 4 / np.sqrt(users.size)


def test_negative_keys_are_distinct_and_non_integer_keys_rejected() -> None:
    assert len(set(hash64(1, "x", np.array([-2, -1, 0, 1])).tolist())) == 4
    with pytest.raises(TypeError, match="integers"):
        uniform(1, "x", np.array([0.5]))
    assert tag_code("finish") != tag_code("finis")


def test_uniform_pair_halves_are_uniform_and_independent() -> None:
    n = 200_000
    hi, lo = KeyedDraws(2, np.arange(n), 1).uniform_pair("noise_skip/finish")
    assert stats.kstest(hi, "uniform").pvalue > 1e-3
    assert stats.kstest(lo, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(hi, lo)[0, 1]) < 4 / np.sqrt(n)
    again = KeyedDraws(2, np.arange(n), 1).uniform_pair("noise_skip/finish")
    np.testing.assert_array_equal(hi, again[0])
