"""Reward models against scikit-learn, and the cross-fitting contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from analysis.errors import AnalysisError
from analysis.ope import RidgeRewardModel, ShrunkMeanRewardModel, cross_fit_predict, make_folds


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    action = rng.choice(np.array([3, 17, 40, 41]), size=n)
    context = rng.normal(size=(n, 2))
    reward = 0.3 + context @ np.array([0.5, -0.2]) + (action == 17) * 0.4 + rng.normal(size=n)
    return action, context, reward


def test_ridge_matches_sklearn_ridge_on_one_hot_design() -> None:
    # sklearn.linear_model.Ridge(alpha, fit_intercept=True) leaves the intercept
    # unpenalised, as RidgeRewardModel does: same objective, same minimiser.
    action, context, reward = _data()
    ids = np.array([3, 17, 40, 41])
    onehot = (action[:, None] == ids[None, :]).astype(float)
    ref = Ridge(alpha=2.5).fit(np.hstack([context, onehot]), reward)
    ours = RidgeRewardModel(alpha=2.5).fit(action, reward, context)
    assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-9)
    np.testing.assert_allclose(ours.coef_context_, ref.coef_[:2], atol=1e-9)
    np.testing.assert_allclose(ours.coef_action_, ref.coef_[2:], atol=1e-9)
    cand = np.array([[3, 17, 99]] * 5)  # 99 unseen: action effect 0
    pred = ours.predict(cand, context[:5])
    expected_seen = ref.predict(np.hstack([context[:5], onehot[:5] * 0 + (ids == 3)]))
    np.testing.assert_allclose(pred[:, 0], expected_seen, atol=1e-9)
    np.testing.assert_allclose(pred[:, 2], ref.intercept_ + context[:5] @ ref.coef_[:2], atol=1e-9)


def test_shrunk_means_by_hand() -> None:
    # actions [5, 5, 5, 8], rewards [1, 1, 0, 1]; global mean 0.75; m = 2:
    #   action 5: (2 + 2*0.75) / (3 + 2) = 0.7;  action 8: (1 + 1.5) / (1 + 2) = 0.8333...
    m = ShrunkMeanRewardModel(prior_strength=2.0).fit(
        np.array([5, 5, 5, 8]), np.array([1.0, 1.0, 0.0, 1.0])
    )
    np.testing.assert_allclose(m.predict(np.array([[5, 8, 6]])), [[0.7, 2.5 / 3, 0.75]])


def test_cross_fit_never_uses_a_rounds_own_fold() -> None:
    action, context, reward = _data(n=300, seed=1)
    cand = np.tile(np.array([3, 17, 40, 41]), (300, 1))
    fit = cross_fit_predict(
        RidgeRewardModel(alpha=1.0), action, reward, cand, context=context, n_folds=3, rng=0
    )
    for k in range(3):
        test = fit.fold == k
        ref = RidgeRewardModel(alpha=1.0).fit(action[~test], reward[~test], context[~test])
        np.testing.assert_allclose(
            fit.q_hat_candidates[test], ref.predict(cand[test], context[test])
        )
        np.testing.assert_allclose(
            fit.q_hat_factual[test], ref.predict(action[test][:, None], context[test])[:, 0]
        )


def test_group_folds_keep_groups_together_and_are_balanced() -> None:
    groups = np.repeat(np.arange(50), 4)
    fold = make_folds(groups.size, 5, groups, rng=3)
    for g in range(50):
        assert np.unique(fold[groups == g]).size == 1
    assert np.bincount(fold).tolist() == [40] * 5


def test_too_many_folds_is_an_error() -> None:
    with pytest.raises(AnalysisError, match="n_folds"):
        cross_fit_predict(
            ShrunkMeanRewardModel(),
            np.array([0, 1]),
            np.array([1.0, 0.0]),
            np.zeros((2, 1), np.int64),
            n_folds=0,
        )
