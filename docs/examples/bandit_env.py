"""An epsilon-greedy bandit trained on the vector environment beats the random policy.

The bandit keeps one estimate per song, the mean reward (here: finish) of its plays so
far. Each step it plays to every user the released song with the best estimate, or, with
probability ``epsilon``, a released song drawn uniformly; it learns from the rewards of
all users at once. The random policy always draws uniformly. Both run the same users
from the same seed, ``n_users`` episodes side by side in one
:class:`~adasim.envs.SessionVectorEnv`.

Gymnasium's next-step autoreset: the step after a user's episode ended starts the next
episode and ignores that user's action (reward 0), so those rows are left out of the
learning and of the mean.

Run (from the repository root, with the ``gym`` extra)::

    python docs/examples/bandit_env.py --n-users 1000 --steps 100
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from adasim.envs import SessionVectorEnv


class EpsilonGreedy:
    """Per-song mean rewards; the best released song, or a random one with ``epsilon``.

    Args:
        n_actions: Songs of the action space.
        epsilon: Share of uniformly random plays.
        rng: The exploration draws.
    """

    def __init__(self, n_actions: int, epsilon: float, rng: np.random.Generator) -> None:
        self.epsilon = epsilon
        self.rng = rng
        self.plays_ = np.zeros(n_actions)
        self.rewards_ = np.zeros(n_actions)

    def act(self, n_items: NDArray[np.int64]) -> NDArray[np.int64]:
        """One song per user, among each user's ``n_items`` released songs."""
        means = self.rewards_ / np.maximum(self.plays_, 1.0)
        actions = np.empty(n_items.shape[0], dtype=np.int64)
        for m in np.unique(n_items):  # the catalogue grows by day: a few distinct sizes
            actions[n_items == m] = np.argmax(means[:m])
        explore = self.rng.random(n_items.shape[0]) < self.epsilon
        actions[explore] = random_actions(n_items[explore], self.rng)
        return actions

    def learn(self, actions: NDArray[np.int64], rewards: NDArray[np.float64]) -> None:
        """Add the plays and their rewards to the songs' totals."""
        np.add.at(self.plays_, actions, 1.0)
        np.add.at(self.rewards_, actions, rewards)


def random_actions(n_items: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.int64]:
    """A uniformly drawn released song per user."""
    out: NDArray[np.int64] = np.floor(rng.random(n_items.shape[0]) * n_items).astype(np.int64)
    return out


def mean_reward(policy: str, n_users: int, n_steps: int, seed: int, epsilon: float) -> float:
    """Mean reward per served step of ``policy`` (``"random"`` or ``"epsilon_greedy"``)."""
    envs = SessionVectorEnv(n_users=n_users, reward="finish")
    rng = np.random.default_rng(seed)
    agent = EpsilonGreedy(envs.single_action_space.n, epsilon, rng)
    obs, _ = envs.reset(seed=seed)
    starting = np.zeros(n_users, dtype=np.bool_)  # rows whose action the autoreset ignores
    total = served = 0.0
    for _ in range(n_steps):
        n_items = obs["context"][:, 3]
        if policy == "random":
            actions = random_actions(n_items, rng)
        else:
            actions = agent.act(n_items)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        played = ~starting
        if policy != "random":
            agent.learn(actions[played], rewards[played])
        total += float(rewards[played].sum())
        served += float(played.sum())
        starting = terminated | truncated
    return total / served


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train and compare; print the mean rewards and return them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-users", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--epsilon", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = {
        policy: mean_reward(policy, args.n_users, args.steps, args.seed, args.epsilon)
        for policy in ("random", "epsilon_greedy")
    }
    for policy, value in result.items():
        print(f"{policy:<16} mean finish per step {value:.4f}")
    print(f"lift of the bandit over random: {result['epsilon_greedy'] / result['random'] - 1:+.1%}")
    return result


if __name__ == "__main__":
    main()
