"""Offline policy evaluation: estimate a new policy's value from another policy's logs.

Estimators in Open Bandit Pipeline's vocabulary (``action_dist`` of shape ``(n_rounds,
n_actions, len_list)``, ``action``, ``reward``, ``pscore``, ``position``,
``estimated_rewards_by_reg_model``; ``estimate_policy_value`` and ``estimate_interval``):
IPS, SNIPS, DM, DR, SNDR, Switch-DR and DR with optimistic shrinkage, each with optional
weight clipping, vectorised bootstrap intervals and overlap diagnostics. Sparse
candidate-set action distributions, per-decision importance sampling of session rewards,
cross-fitted reward models, a synthetic bandit with exact ground truth, and
:func:`evaluate_logs`, which runs them all on a logged table, overall and per cohort, and
:func:`compare_with_references`, which sets the estimates beside the simulator's truth
and the online A/B value.
The maths is in ``docs/methods/ope.md``.
"""

from __future__ import annotations

from analysis.ope.base import BaseOffPolicyEstimator, RoundInputs, reduce_inputs
from analysis.ope.bootstrap import bootstrap_column_means, bootstrap_interval, percentile_interval
from analysis.ope.compare import (
    OPEComparison,
    OPEComparisonTable,
    ReferenceValue,
    compare_with_references,
)
from analysis.ope.diagnostics import OverlapDiagnostics, effective_sample_size, overlap_diagnostics
from analysis.ope.dm import DirectMethod
from analysis.ope.dr import (
    DoublyRobust,
    DoublyRobustWithShrinkage,
    SelfNormalizedDoublyRobust,
    SwitchDoublyRobust,
)
from analysis.ope.evaluate import (
    LogColumns,
    default_estimators,
    default_session_estimators,
    evaluate_logs,
)
from analysis.ope.ips import InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting
from analysis.ope.results import OPEEstimate, OPEResults
from analysis.ope.reward_model import (
    CrossFitPrediction,
    RewardModel,
    RidgeRewardModel,
    ShrunkMeanRewardModel,
    cross_fit_predict,
    make_folds,
)
from analysis.ope.session import PerDecisionImportanceSampling, SessionInputs, reduce_sessions
from analysis.ope.sparse import SparseActionDist
from analysis.ope.synthetic import BanditFeedback, SyntheticBandit

__all__ = [
    "BanditFeedback",
    "BaseOffPolicyEstimator",
    "CrossFitPrediction",
    "DirectMethod",
    "DoublyRobust",
    "DoublyRobustWithShrinkage",
    "InverseProbabilityWeighting",
    "LogColumns",
    "OPEComparison",
    "OPEComparisonTable",
    "OPEEstimate",
    "OPEResults",
    "OverlapDiagnostics",
    "PerDecisionImportanceSampling",
    "ReferenceValue",
    "RewardModel",
    "RidgeRewardModel",
    "RoundInputs",
    "SelfNormalizedDoublyRobust",
    "SelfNormalizedInverseProbabilityWeighting",
    "SessionInputs",
    "ShrunkMeanRewardModel",
    "SparseActionDist",
    "SwitchDoublyRobust",
    "SyntheticBandit",
    "bootstrap_column_means",
    "bootstrap_interval",
    "compare_with_references",
    "cross_fit_predict",
    "default_estimators",
    "default_session_estimators",
    "effective_sample_size",
    "evaluate_logs",
    "make_folds",
    "overlap_diagnostics",
    "percentile_interval",
    "reduce_inputs",
    "reduce_sessions",
]
