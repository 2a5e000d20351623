"""Serving policies that turn ranking scores into one choice with an exact propensity.

OPE needs the probability with which the logged item was chosen, so every policy here
returns the whole distribution over the candidates, not just the winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from simulator.errors import ConfigError

ExplorationKind = Literal["softmax", "epsilon_greedy", "greedy"]


@dataclass(frozen=True)
class ExplorationConfig:
    """How scores become a choice.

    Attributes:
        kind: ``"softmax"`` (Boltzmann over scores / temperature), ``"epsilon_greedy"``
            (best with 1 - epsilon, uniform otherwise; ties share the greedy mass) or
            ``"greedy"`` (the best, ties broken uniformly).
        temperature: Softmax temperature, > 0; smaller is greedier.
        epsilon: Exploration rate of epsilon-greedy, in [0, 1].
    """

    kind: ExplorationKind = "softmax"
    temperature: float = 0.1
    epsilon: float = 0.05

    def __post_init__(self) -> None:
        if self.kind not in ("softmax", "epsilon_greedy", "greedy"):
            raise ConfigError(
                f"exploration.kind == {self.kind!r}, must be one of softmax, epsilon_greedy, greedy"
            )
        if not self.temperature > 0:
            raise ConfigError(f"exploration.temperature == {self.temperature}, must be > 0")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigError(f"exploration.epsilon == {self.epsilon}, must be in [0, 1]")


def choice_probabilities(
    scores: NDArray[np.floating], config: ExplorationConfig
) -> NDArray[np.float64]:
    """Probability of each candidate under the serving policy.

    Args:
        scores: ``(B, n_cand)`` ranking scores (higher is better); ``-inf`` marks a slot
            that must never be chosen (padding).

    Returns:
        ``(B, n_cand)`` float64, each row summing to 1.
    """
    s = np.asarray(scores, dtype=np.float64)
    valid = np.isfinite(s)
    if not valid.any(axis=1).all():
        raise ValueError("scores: every row needs at least one finite score")
    if config.kind == "softmax":
        z = np.where(valid, s / config.temperature, -np.inf)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    best = np.where(valid, s, -np.inf)
    is_best = best == best.max(axis=1, keepdims=True)
    greedy = is_best / is_best.sum(axis=1, keepdims=True)
    if config.kind == "greedy":
        return greedy
    uniform = valid / valid.sum(axis=1, keepdims=True)
    return (1.0 - config.epsilon) * greedy + config.epsilon * uniform


def sample_choices(probs: NDArray[np.float64], uniforms: NDArray[np.float64]) -> NDArray[np.int64]:
    """Inverse-CDF draw of one column per row, driven by given uniforms in [0, 1).

    Taking the uniforms as an argument (instead of an rng) lets callers use common random
    numbers, so the choice of a row does not depend on the batch it was served in.
    """
    cdf = np.cumsum(probs, axis=1)
    # Guard the last column against round-off making the total slightly below 1.
    cdf[:, -1] = np.inf
    return (cdf > uniforms[:, None]).argmax(axis=1).astype(np.int64)
