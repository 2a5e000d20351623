"""A synthetic contextual-bandit world with exact ground truth, for tests and benchmarks.

Contexts come from a finite set of ``n_context_types`` types with known probabilities, so
every policy's value is an exact finite sum,

    V(pi) = sum_c p_c sum_a pi(a | c) q(c, a),

not a Monte-Carlo approximation; an estimator's bias can then be tested against the truth
itself. The expected reward of action ``a`` in context type ``c`` is
``q(c, a) = sigmoid(x_c . theta_a + b_a)`` with Gaussian context features ``x_c``, action
parameters ``theta_a`` and action biases ``b_a`` (popular actions get larger biases);
rewards are Bernoulli(q). Policies are softmax tables over ``logit(q)``: a behaviour
(logging) policy with inverse temperature ``beta`` and any number of evaluation policies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError
from analysis.ope._checks import check_positive_int, check_probabilities
from analysis.ope.bootstrap import RandomState
from analysis.ope.sparse import SparseActionDist

#: Rounds sampled per chunk, so that per-chunk (rounds x actions) temporaries stay small.
_SAMPLE_CHUNK = 65_536


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class BanditFeedback:
    """A logged bandit data set (Open Bandit Pipeline's ``bandit_feedback`` fields).

    Attributes:
        n_rounds: Number of rounds.
        n_actions: Number of actions.
        context_type: Each round's context type, shape ``(n_rounds,)``.
        context: Each round's context features, shape ``(n_rounds, dim_context)``.
        action: Logged actions, shape ``(n_rounds,)``.
        position: All zeros (one action per round), shape ``(n_rounds,)``.
        reward: Bernoulli rewards, shape ``(n_rounds,)``.
        expected_reward: ``q(x_i, a_i)`` of the logged action, shape ``(n_rounds,)``.
        pscore: Behaviour policy's probability of the logged action, shape ``(n_rounds,)``.
        session_id: Session of each round (from :meth:`SyntheticBandit.sample_sessions`),
            else None.
        step: Step of each round within its session, else None.
    """

    n_rounds: int
    n_actions: int
    context_type: NDArray[np.int64]
    context: NDArray[np.float64]
    action: NDArray[np.int64]
    position: NDArray[np.int64]
    reward: NDArray[np.float64]
    expected_reward: NDArray[np.float64]
    pscore: NDArray[np.float64]
    session_id: NDArray[np.int64] | None = None
    step: NDArray[np.int64] | None = None


@dataclass(frozen=True, eq=False)
class SyntheticBandit:
    """A finite-context bandit world: reward table, context law and a behaviour policy.

    Build one with :meth:`build`; sample logs with :meth:`sample`; the exact value of any
    policy table with :meth:`policy_value`.

    Attributes:
        context_prob: Probability of each context type, shape ``(n_context_types,)``.
        context_features: Features of each type, shape ``(n_context_types, dim_context)``.
        expected_reward: ``q(c, a)``, shape ``(n_context_types, n_actions)``, in (0, 1).
        behavior_policy: ``pi_b(a | c)``, shape ``(n_context_types, n_actions)``.

    Examples:
        >>> bandit = SyntheticBandit.build(n_actions=4, n_context_types=3, rng=0)
        >>> log = bandit.sample(5, rng=1)
        >>> log.action.shape, bool(np.all(log.pscore > 0))
        ((5,), True)
        >>> v = bandit.policy_value(bandit.behavior_policy)
        >>> bool(0.0 < v < 1.0)
        True
    """

    context_prob: NDArray[np.float64]
    context_features: NDArray[np.float64]
    expected_reward: NDArray[np.float64]
    behavior_policy: NDArray[np.float64]

    @classmethod
    def build(
        cls,
        *,
        n_actions: int = 10,
        n_context_types: int = 100,
        dim_context: int = 5,
        beta: float = 1.0,
        reward_scale: float = 1.0,
        popularity_exponent: float = 1.0,
        rng: RandomState = None,
    ) -> SyntheticBandit:
        """Draw a world.

        Args:
            n_actions: Number of actions.
            n_context_types: Number of distinct contexts.
            dim_context: Context feature dimension.
            beta: Inverse temperature of the behaviour policy over ``logit(q)``; 0 is
                uniform, large values are near greedy.
            reward_scale: Scale of the context-action interaction in ``logit(q)``.
            popularity_exponent: Action biases are ``-popularity_exponent * log(rank)``
                (a power-law popularity), shifted so the most popular action has bias 0.
            rng: Seed or generator.
        """
        check_positive_int(n_actions, "n_actions")
        check_positive_int(n_context_types, "n_context_types")
        check_positive_int(dim_context, "dim_context")
        if not np.isfinite(beta):
            raise AnalysisError(f"beta == {beta}, must be finite")
        gen = np.random.default_rng(rng)
        context_prob = gen.dirichlet(np.ones(n_context_types))
        features = gen.standard_normal((n_context_types, dim_context))
        theta = gen.standard_normal((dim_context, n_actions)) * reward_scale / np.sqrt(dim_context)
        bias = -popularity_exponent * np.log1p(gen.permutation(n_actions).astype(np.float64))
        logits = features @ theta + bias - 0.5
        expected_reward = 1.0 / (1.0 + np.exp(-logits))
        return cls(
            context_prob=context_prob,
            context_features=features,
            expected_reward=expected_reward,
            behavior_policy=_softmax(beta * logits),
        )

    @property
    def n_actions(self) -> int:
        """Number of actions."""
        return int(self.expected_reward.shape[1])

    @property
    def n_context_types(self) -> int:
        """Number of context types."""
        return int(self.expected_reward.shape[0])

    def softmax_policy(self, beta: float) -> NDArray[np.float64]:
        """A softmax table ``pi(a | c) ∝ exp(beta * logit q(c, a))``."""
        q = self.expected_reward
        return _softmax(beta * np.log(q / (1.0 - q)))

    def epsilon_greedy_policy(self, epsilon: float) -> NDArray[np.float64]:
        """Best action with probability ``1 - epsilon``, else uniform."""
        if not 0.0 <= epsilon <= 1.0:
            raise AnalysisError(f"epsilon == {epsilon}, must be in [0, 1]")
        table = np.full(self.expected_reward.shape, epsilon / self.n_actions)
        best = self.expected_reward.argmax(axis=1)
        table[np.arange(self.n_context_types), best] += 1.0 - epsilon
        return table

    def _check_policy(self, policy: NDArray[np.float64], name: str) -> NDArray[np.float64]:
        table = np.asarray(policy, dtype=np.float64)
        if table.shape != self.expected_reward.shape:
            raise AnalysisError(
                f"{name} has shape {table.shape}, must be (n_context_types, n_actions) "
                f"== {self.expected_reward.shape}"
            )
        check_probabilities(table, name, axis=1)
        return table

    def policy_value(self, policy: NDArray[np.float64]) -> float:
        """Exact value ``sum_c p_c sum_a pi(a | c) q(c, a)`` of a policy table."""
        table = self._check_policy(policy, "policy")
        return float(self.context_prob @ np.einsum("ca,ca->c", table, self.expected_reward))

    def sample(self, n_rounds: int, rng: RandomState = None) -> BanditFeedback:
        """Log ``n_rounds`` rounds of the behaviour policy.

        Actions are drawn by inverse CDF in chunks of rounds, so no ``(n_rounds,
        n_actions)`` array is built.
        """
        check_positive_int(n_rounds, "n_rounds")
        gen = np.random.default_rng(rng)
        context_type = gen.choice(self.n_context_types, size=n_rounds, p=self.context_prob)
        cdf = np.cumsum(self.behavior_policy, axis=1)
        u = gen.random(n_rounds)
        action = np.empty(n_rounds, np.int64)
        for start in range(0, n_rounds, _SAMPLE_CHUNK):
            stop = min(start + _SAMPLE_CHUNK, n_rounds)
            below = cdf[context_type[start:stop]] < u[start:stop, None]
            action[start:stop] = below.sum(axis=1)
        # Rounding in the cumulative sum can leave u above the last entry.
        np.minimum(action, self.n_actions - 1, out=action)
        expected = self.expected_reward[context_type, action]
        reward = (gen.random(n_rounds) < expected).astype(np.float64)
        return BanditFeedback(
            n_rounds=n_rounds,
            n_actions=self.n_actions,
            context_type=context_type.astype(np.int64),
            context=self.context_features[context_type],
            action=action,
            position=np.zeros(n_rounds, np.int64),
            reward=reward,
            expected_reward=expected,
            pscore=self.behavior_policy[context_type, action],
        )

    def sample_sessions(
        self, n_sessions: int, max_steps: int, rng: RandomState = None
    ) -> BanditFeedback:
        """Log sessions of the behaviour policy that end at the first zero reward.

        Each step draws a fresh context; the session goes on while rewards are 1 (a user
        who keeps finishing songs keeps listening), up to ``max_steps`` steps, so a
        session's length depends on the policy. See :meth:`session_value` for the truth.
        """
        check_positive_int(n_sessions, "n_sessions")
        check_positive_int(max_steps, "max_steps")
        full = self.sample(n_sessions * max_steps, rng)
        ones = full.reward.reshape(n_sessions, max_steps) == 1.0
        # Step t is played if every earlier step was finished.
        played = np.ones((n_sessions, max_steps), bool)
        played[:, 1:] = np.cumprod(ones[:, :-1], axis=1).astype(bool)
        keep = played.ravel()
        grid = np.indices((n_sessions, max_steps)).reshape(2, -1)
        return BanditFeedback(
            n_rounds=int(keep.sum()),
            n_actions=self.n_actions,
            context_type=full.context_type[keep],
            context=full.context[keep],
            action=full.action[keep],
            position=full.position[keep],
            reward=full.reward[keep],
            expected_reward=full.expected_reward[keep],
            pscore=full.pscore[keep],
            session_id=grid[0][keep].astype(np.int64),
            step=grid[1][keep].astype(np.int64),
        )

    def session_value(self, policy: NDArray[np.float64], max_steps: int) -> float:
        """Exact expected session total reward of :meth:`sample_sessions` under a policy.

        Contexts are independent across steps, so each step is finished with probability
        ``V = policy_value(policy)`` and the total is ``sum_{t=1}^{max_steps} V^t``.
        """
        check_positive_int(max_steps, "max_steps")
        v = self.policy_value(policy)
        return float(sum(v**t for t in range(1, max_steps + 1)))

    def action_dist(
        self, policy: NDArray[np.float64], context_type: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Dense ``(n_rounds, n_actions, 1)`` action distribution of a policy table."""
        table = self._check_policy(policy, "policy")
        return table[context_type][:, :, None]

    def sparse_action_dist(
        self, policy: NDArray[np.float64], context_type: NDArray[np.int64]
    ) -> SparseActionDist:
        """The same distribution as candidate sets: each round's actions with mass > 0."""
        table = self._check_policy(policy, "policy")
        n_cand = int((table > 0).sum(axis=1).max())
        order = np.argsort(-table, axis=1, kind="stable")[:, :n_cand]
        probs = np.take_along_axis(table, order, axis=1)
        cand = np.where(probs > 0, order, -1)
        return SparseActionDist(candidates=cand[context_type], probs=probs[context_type])

    def reward_table_dist(self, context_type: NDArray[np.int64]) -> NDArray[np.float64]:
        """True ``q(x_i, a)`` as a dense ``(n_rounds, n_actions, 1)`` array (an oracle
        reward model, for tests)."""
        return self.expected_reward[context_type][:, :, None]
