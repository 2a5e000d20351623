"""Serving policies: exact propensities, valid distributions, honest sampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from agents.exploration import ExplorationConfig, choice_probabilities, sample_choices
from simulator.errors import ConfigError

CONFIGS = [
    ExplorationConfig("softmax", temperature=0.5),
    ExplorationConfig("epsilon_greedy", epsilon=0.2),
    ExplorationConfig("greedy"),
]


@settings(max_examples=60, deadline=None)
@given(
    scores=arrays(np.float64, (4, 7), elements=st.floats(-20, 20)),
    which=st.integers(0, len(CONFIGS) - 1),
)
def test_rows_are_distributions(scores: np.ndarray, which: int) -> None:
    probs = choice_probabilities(scores, CONFIGS[which])
    assert probs.shape == scores.shape
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_softmax_matches_hand_calculation() -> None:
    # exp([1, 2, 3] / 0.5) normalised: hand-computed with Python's math.exp.
    probs = choice_probabilities(np.array([[1.0, 2.0, 3.0]]), ExplorationConfig("softmax", 0.5))
    e = np.exp(np.array([2.0, 4.0, 6.0]))
    np.testing.assert_allclose(probs[0], e / e.sum(), rtol=1e-14)


def test_epsilon_greedy_formula_and_padding() -> None:
    scores = np.array([[0.1, 0.9, -np.inf, 0.3]])
    probs = choice_probabilities(scores, ExplorationConfig("epsilon_greedy", epsilon=0.3))
    # three valid slots: 0.3 / 3 each, the best gets 0.7 more, the padded slot 0.
    np.testing.assert_allclose(probs[0], [0.1, 0.8, 0.0, 0.1], atol=1e-15)


def test_sampling_frequencies_within_binomial_band() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    probs = np.tile([[0.2, 0.5, 0.3]], (n, 1))
    picks = sample_choices(probs, rng.random(n))
    for column, p in enumerate([0.2, 0.5, 0.3]):
        lo, hi = stats.binom.ppf([0.0005, 0.9995], n, p)
        assert lo <= (picks == column).sum() <= hi


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"kind": "boltzmann"}, r"exploration\.kind == 'boltzmann'"),
        ({"temperature": 0.0}, r"exploration\.temperature == 0\.0, must be > 0"),
        ({"epsilon": 1.5}, r"exploration\.epsilon == 1\.5, must be in \[0, 1\]"),
    ],
)
def test_invalid_config(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        ExplorationConfig(**kwargs)  # type: ignore[arg-type]
