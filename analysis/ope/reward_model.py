"""Reward models for DM and DR, fitted from the log with K-fold cross-fitting.

Two models, numpy and scipy only:

* :class:`ShrunkMeanRewardModel`: per-action mean reward shrunk towards the global mean,
  ``q(a) = (sum_{i: a_i = a} r_i + m * rbar) / (n_a + m)`` (an empirical-Bayes style
  additive smoothing with prior strength ``m``); ignores the context.
* :class:`RidgeRewardModel`: ridge regression of the reward on
  ``[1, x_i, onehot(a_i)]``, ``q(x, a) = b0 + x . beta + gamma_a``; the intercept is not
  penalised. Solved through the sparse normal equations, so the one-hot block may hold tens
  of thousands of actions.

Cross-fitting (Chernozhukov et al. 2018, "Double/debiased machine learning"; Narita,
Yasui and Yata 2021 for OPE) predicts each round with a model fitted on the other folds,
so a DR correction term never uses a model that has seen its own round's reward. Folds may
be formed from groups (users, sessions) to keep correlated rounds on one side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import spsolve

from analysis.errors import AnalysisError
from analysis.ope._checks import as_float_array, as_int_array, check_length, check_positive_int
from analysis.ope.bootstrap import RandomState

#: Predictions (rows x candidates) made at once by :func:`cross_fit_predict`.
_PREDICT_CHUNK_ENTRIES = 1 << 20


class RewardModel(Protocol):
    """What :func:`cross_fit_predict` needs from a reward model."""

    def fit(
        self,
        action: NDArray[np.int64],
        reward: NDArray[np.float64],
        context: NDArray[np.float64] | None = None,
    ) -> RewardModel:
        """Fit on logged rounds; returns self."""
        ...

    def predict(
        self, actions: NDArray[np.int64], context: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """Predictions for ``actions`` of shape ``(n_rounds, k)``; same shape out."""
        ...

    def clone(self) -> RewardModel:
        """An unfitted copy with the same parameters."""
        ...


def _action_index(
    known: NDArray[np.int64], actions: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Position of each action id in the sorted ``known`` ids, and whether it is known."""
    pos = np.searchsorted(known, actions)
    pos = np.minimum(pos, max(known.size - 1, 0))
    found = known[pos] == actions if known.size else np.zeros(actions.shape, bool)
    return pos, found


@dataclass
class ShrunkMeanRewardModel:
    """Per-action mean reward shrunk towards the global mean (context ignored).

    Attributes:
        prior_strength: Pseudo-count ``m`` of the global mean in each action's mean.
        actions_: Sorted action ids seen in ``fit``.
        means_: Shrunk mean of each of ``actions_``.
        global_mean_: Mean reward over all rounds; the prediction for unseen actions.

    Examples:
        >>> m = ShrunkMeanRewardModel(prior_strength=1.0).fit(
        ...     np.array([0, 0, 1]), np.array([1.0, 1.0, 0.0]))
        >>> m.predict(np.array([[0, 1, 2]])).round(4).tolist()
        [[0.8889, 0.3333, 0.6667]]
    """

    prior_strength: float = 10.0
    actions_: NDArray[np.int64] = field(init=False, repr=False)
    means_: NDArray[np.float64] = field(init=False, repr=False)
    global_mean_: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.prior_strength >= 0.0:
            raise AnalysisError(f"prior_strength == {self.prior_strength}, must be >= 0")

    def fit(
        self,
        action: NDArray[np.int64],
        reward: NDArray[np.float64],
        context: NDArray[np.float64] | None = None,
    ) -> ShrunkMeanRewardModel:
        """Fit the per-action shrunk means; ``context`` is ignored."""
        if action.shape[0] == 0:
            raise AnalysisError("action has 0 rounds, need at least 1 to fit a reward model")
        self.actions_, inverse = np.unique(action, return_inverse=True)
        sums = np.bincount(inverse, weights=reward, minlength=self.actions_.size)
        counts = np.bincount(inverse, minlength=self.actions_.size)
        self.global_mean_ = float(reward.mean())
        m = self.prior_strength
        self.means_ = (sums + m * self.global_mean_) / (counts + m)
        return self

    def predict(
        self, actions: NDArray[np.int64], context: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """Shrunk mean of each action id; the global mean for ids not seen in ``fit``."""
        pos, found = _action_index(self.actions_, actions)
        return np.where(found, self.means_[pos], self.global_mean_)

    def clone(self) -> ShrunkMeanRewardModel:
        """An unfitted copy."""
        return ShrunkMeanRewardModel(prior_strength=self.prior_strength)


@dataclass
class RidgeRewardModel:
    """Ridge regression on ``[1, context, onehot(action)]``; the intercept is unpenalised.

    Minimises ``sum_i (r_i - b0 - x_i . beta - gamma_{a_i})^2 + alpha (|beta|^2 +
    |gamma|^2)``. Unseen actions get ``gamma = 0`` (the prior mean of a ridge coefficient).

    Attributes:
        alpha: Ridge penalty, > 0.
        actions_: Sorted action ids seen in ``fit``.
        intercept_: ``b0``.
        coef_context_: ``beta``, shape ``(dim_context,)``.
        coef_action_: ``gamma``, one per ``actions_``.
    """

    alpha: float = 1.0
    actions_: NDArray[np.int64] = field(init=False, repr=False)
    intercept_: float = field(init=False, repr=False)
    coef_context_: NDArray[np.float64] = field(init=False, repr=False)
    coef_action_: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.alpha > 0.0:
            raise AnalysisError(f"alpha == {self.alpha}, must be > 0 (the ridge penalty)")

    def fit(
        self,
        action: NDArray[np.int64],
        reward: NDArray[np.float64],
        context: NDArray[np.float64] | None = None,
    ) -> RidgeRewardModel:
        """Solve the ridge normal equations ``(Phi'Phi + alpha D) coef = Phi'r``.

        With ``Z = [1, x]`` and the one-hot block ``A``, ``Phi'Phi`` is assembled from its
        blocks, ``Z'Z``, ``Z'A`` (per-action sums of ``Z``, by ``bincount``) and the
        diagonal ``A'A`` (action counts), so memory is ``O(n dim_context)``, never a copy
        of the design; the system is sparse when there are many actions.
        """
        n = action.shape[0]
        if n == 0:
            raise AnalysisError("action has 0 rounds, need at least 1 to fit a reward model")
        x = np.zeros((n, 0)) if context is None else context
        self.actions_, inverse = np.unique(action, return_inverse=True)
        n_act = self.actions_.size
        z = np.hstack([np.ones((n, 1)), x])
        ztz = z.T @ z
        zta = np.vstack(
            [np.bincount(inverse, weights=z[:, c], minlength=n_act) for c in range(z.shape[1])]
        )
        counts = np.bincount(inverse, minlength=n_act).astype(np.float64)
        penalty_z = np.full(z.shape[1], self.alpha)
        penalty_z[0] = 0.0  # the intercept is not penalised
        gram = sp.bmat(
            [
                [sp.csr_matrix(ztz + np.diag(penalty_z)), sp.csr_matrix(zta)],
                [sp.csr_matrix(zta.T), sp.diags(counts + self.alpha)],
            ]
        ).tocsc()
        rhs = np.concatenate([z.T @ reward, np.bincount(inverse, weights=reward, minlength=n_act)])
        coef = np.atleast_1d(spsolve(gram, rhs))
        d = x.shape[1]
        self.intercept_ = float(coef[0])
        self.coef_context_ = coef[1 : 1 + d]
        self.coef_action_ = coef[1 + d :]
        return self

    def predict(
        self, actions: NDArray[np.int64], context: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """``b0 + x_i . beta + gamma_a`` for each ``actions[i, j]``."""
        base = np.full(actions.shape[0], self.intercept_)
        if self.coef_context_.size:
            if context is None:
                raise AnalysisError("context is None, but the model was fitted with a context")
            base = base + context @ self.coef_context_
        pos, found = _action_index(self.actions_, actions)
        gamma = np.where(found, self.coef_action_[pos] if self.actions_.size else 0.0, 0.0)
        return base[:, None] + gamma

    def clone(self) -> RidgeRewardModel:
        """An unfitted copy."""
        return RidgeRewardModel(alpha=self.alpha)


@dataclass(frozen=True, eq=False)
class CrossFitPrediction:
    """Cross-fitted reward model predictions.

    Attributes:
        q_hat_factual: Prediction at the logged action, shape ``(n_rounds,)``.
        q_hat_candidates: Predictions at each candidate action, shape ``(n_rounds, k)``.
        fold: Fold of each round, shape ``(n_rounds,)``.
    """

    q_hat_factual: NDArray[np.float64]
    q_hat_candidates: NDArray[np.float64]
    fold: NDArray[np.int64]


def make_folds(
    n_rounds: int,
    n_folds: int,
    groups: NDArray[np.int64] | None = None,
    rng: RandomState = None,
) -> NDArray[np.int64]:
    """Random fold of each round; all rounds of a group share a fold."""
    check_positive_int(n_folds, "n_folds")
    gen = np.random.default_rng(rng)
    if groups is None:
        return gen.permutation(np.arange(n_rounds) % n_folds).astype(np.int64)
    _, inverse = np.unique(groups, return_inverse=True)
    n_groups = int(inverse.max()) + 1 if inverse.size else 0
    group_fold = gen.permutation(np.arange(n_groups) % n_folds)
    return group_fold[inverse].astype(np.int64)


def cross_fit_predict(
    model: RewardModel,
    action: NDArray[np.int64],
    reward: NDArray[np.float64],
    candidate_actions: NDArray[np.int64],
    *,
    context: NDArray[np.float64] | None = None,
    n_folds: int = 5,
    groups: NDArray[np.int64] | None = None,
    rng: RandomState = None,
) -> CrossFitPrediction:
    """K-fold cross-fitted predictions at the logged and at the candidate actions.

    Args:
        model: An unfitted reward model; each fold fits ``model.clone()``.
        action: Logged actions, shape ``(n_rounds,)``.
        reward: Observed rewards, shape ``(n_rounds,)``.
        candidate_actions: Actions to predict per round, shape ``(n_rounds, k)`` (for
            a dense policy: every action; for a sparse one: its candidates, ``-1``
            padding gets some prediction that a zero probability then ignores).
        context: Context features, shape ``(n_rounds, dim_context)``, or None.
        n_folds: Number of folds; 1 fits and predicts on the whole log (no cross-fitting).
        groups: Group ids (user, session) kept within one fold, shape ``(n_rounds,)``.
        rng: Seed or generator for the fold assignment.

    Returns:
        The predictions and the fold assignment.
    """
    action = as_int_array(action, "action")
    n = action.shape[0]
    reward = as_float_array(reward, "reward", 1)
    check_length(reward, "reward", n, "action")
    cand = np.asarray(candidate_actions)
    if cand.ndim != 2:
        raise AnalysisError(f"candidate_actions must be (n_rounds, k), got shape {cand.shape}")
    check_length(cand, "candidate_actions", n, "action")
    if context is not None:
        context = as_float_array(context, "context", 2)
        check_length(context, "context", n, "action")
    if groups is not None:
        groups = as_int_array(groups, "groups")
        check_length(groups, "groups", n, "action")
    check_positive_int(n_folds, "n_folds")
    fold = make_folds(n, n_folds, groups, rng)
    q_factual = np.empty(n)
    q_cand = np.empty(cand.shape)
    for k in range(n_folds):
        test = fold == k
        if not test.any():
            continue
        train = ~test if n_folds > 1 else test
        if not train.any():
            raise AnalysisError(
                f"n_folds == {n_folds} leaves fold {k} without training rounds; lower n_folds"
            )
        ctx_train = None if context is None else context[train]
        ctx_test = None if context is None else context[test]
        fitted = model.clone().fit(action[train], reward[train], ctx_train)
        q_factual[test] = fitted.predict(action[test][:, None], ctx_test)[:, 0]
        # Predict in row chunks: a model's temporaries are several (rows, k) arrays, and
        # rows x k is n_rounds x n_actions for a dense policy.
        rows = np.flatnonzero(test)
        step = max(1, _PREDICT_CHUNK_ENTRIES // max(cand.shape[1], 1))
        for start in range(0, rows.size, step):
            chunk = rows[start : start + step]
            q_cand[chunk] = fitted.predict(cand[chunk], None if context is None else context[chunk])
    return CrossFitPrediction(q_hat_factual=q_factual, q_hat_candidates=q_cand, fold=fold)
