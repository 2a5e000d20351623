"""Hash assignment: deterministic, salt-dependent, shares within binomial bands."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.engine.assignment import FixedArm, HashAssignment
from simulator.errors import ConfigError


def test_shares_within_binomial_band() -> None:
    n = 50_000
    arms = HashAssignment("salt", [0.2, 0.3, 0.5])(np.arange(n))
    for k, p in enumerate([0.2, 0.3, 0.5]):
        lo, hi = stats.binom.ppf([0.0005, 0.9995], n, p)
        assert lo <= (arms == k).sum() <= hi


def test_deterministic_and_batch_invariant() -> None:
    a = HashAssignment("x", [0.5, 0.5])
    users = np.arange(1000)
    whole = a(users)
    pieces = np.concatenate([a(users[:3]), a(users[3:517]), a(users[517:])])
    assert (whole == pieces).all()
    assert (whole == HashAssignment("x", [0.5, 0.5])(users)).all()


def test_new_salt_rerandomises() -> None:
    users = np.arange(20_000)
    a, b = HashAssignment("a", [0.5, 0.5])(users), HashAssignment("b", [0.5, 0.5])(users)
    agree = (a == b).mean()
    # Independent fair coins agree half the time: 99.9% binomial band.
    lo, hi = stats.binom.ppf([0.0005, 0.9995], users.size, 0.5) / users.size
    assert lo <= agree <= hi


def test_fixed_arm() -> None:
    assert (FixedArm(1)(np.arange(5)) == 1).all()


@pytest.mark.parametrize(
    ("shares", "pattern"),
    [
        ([0.5, 0.6], r"shares == \[0\.5, 0\.6\], must be positive and sum to 1"),
        ([], r"shares == \[\]"),
        ([1.2, -0.2], r"must be positive"),
    ],
)
def test_bad_shares(shares: list[float], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        HashAssignment("s", shares)
