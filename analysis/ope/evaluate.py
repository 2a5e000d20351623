"""Evaluate a policy on a logged table: every estimator, with intervals, overall and by cohort.

:func:`evaluate_logs` is what ``adasim ope RUN_DIR`` calls: given the control arm's event
log (one row per impression, with the columns of the event contract: ``item_id``,
``pscore``, ``session_id``, ``step``, rewards such as ``finish`` and ``listen_seconds``,
optional cohort columns) and the evaluation (treatment) policy's candidate-set action
distribution on the same rows, it returns

* per impression, for each reward: the seven bandit estimators (IPS, SNIPS, DM, DR, SNDR,
  Switch-DR, DR-OS) plus the log's own mean (``"logged"``, the logging policy's value);
* per session, for each session reward: PDIS and WPDIS of the session total;

each with a percentile bootstrap interval and overlap diagnostics, for the whole log and
for each value of each cohort column. All bandit estimators of one (reward, cohort) share
the same bootstrap resamples, so their intervals are paired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError, SchemaError
from analysis.ope.base import BaseOffPolicyEstimator, RoundInputs, reduce_inputs
from analysis.ope.bootstrap import (
    BootstrapMethod,
    RandomState,
    bootstrap_column_means,
    percentile_interval,
)
from analysis.ope.diagnostics import DEFAULT_TINY_PSCORE, overlap_diagnostics
from analysis.ope.dm import DirectMethod
from analysis.ope.dr import (
    DoublyRobust,
    DoublyRobustWithShrinkage,
    SelfNormalizedDoublyRobust,
    SwitchDoublyRobust,
)
from analysis.ope.ips import InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting
from analysis.ope.results import OPEEstimate, OPEResults
from analysis.ope.reward_model import (
    RewardModel,
    RidgeRewardModel,
    ShrunkMeanRewardModel,
    cross_fit_predict,
)
from analysis.ope.session import PerDecisionImportanceSampling, reduce_sessions
from analysis.ope.sparse import SparseActionDist

#: Default thresholds of Switch-DR (tau) and DR-OS (lambda): weights beyond ~100 are where
#: a single round starts to dominate a log of thousands; a user with a validation log
#: should tune them (Su et al. 2020 select lambda by a bias-variance bound).
DEFAULT_SWITCH_TAU = 100.0
DEFAULT_SHRINKAGE_LAMBDA = 100.0


def default_estimators() -> tuple[BaseOffPolicyEstimator, ...]:
    """The seven bandit estimators with default settings, in report order."""
    return (
        InverseProbabilityWeighting(),
        SelfNormalizedInverseProbabilityWeighting(),
        DirectMethod(),
        DoublyRobust(),
        SelfNormalizedDoublyRobust(),
        SwitchDoublyRobust(tau=DEFAULT_SWITCH_TAU),
        DoublyRobustWithShrinkage(lambda_=DEFAULT_SHRINKAGE_LAMBDA),
    )


def default_session_estimators() -> tuple[PerDecisionImportanceSampling, ...]:
    """PDIS and WPDIS."""
    return (
        PerDecisionImportanceSampling(self_normalized=False),
        PerDecisionImportanceSampling(self_normalized=True),
    )


@dataclass(frozen=True)
class LogColumns:
    """Names of the log's columns (defaults: the event contract in DESIGN.md section 6).

    Attributes:
        action: Logged item (action) id.
        pscore: Logging policy's probability of the logged item.
        session: Session id (for session-level estimates and cross-fitting groups).
        step: Step within the session.
        position: Position in a list, or None for one item per round.
        group: Column whose values stay within one cross-fitting fold (e.g. ``user_id``),
            or None for a random split of rows.
    """

    action: str = "item_id"
    pscore: str = "pscore"
    session: str = "session_id"
    step: str = "step"
    position: str | None = None
    group: str | None = "user_id"


def _column(log: Any, name: str) -> NDArray[Any]:
    try:
        values = log[name]
    except (KeyError, IndexError) as exc:
        raise SchemaError(f"log has no column {name!r}") from exc
    return np.asarray(values)


def _cohort_masks(log: Any, cohorts: Sequence[str], n_rounds: int) -> list[tuple[str, Any]]:
    masks: list[tuple[str, Any]] = [("all", None)]
    for col in cohorts:
        values = _column(log, col)
        if values.shape[0] != n_rounds:
            raise SchemaError(
                f"cohort column {col!r} has {values.shape[0]} rows, log has {n_rounds}"
            )
        for value in np.unique(values):
            masks.append((f"{col}={value}", values == value))
    return masks


def _session_rows(
    mask: NDArray[np.bool_], session_id: NDArray[Any], step: NDArray[Any]
) -> NDArray[np.bool_]:
    """Rows of the sessions whose first step is in ``mask``.

    A session is assigned whole to the cohort of its first row: per-decision weights are
    products along the session, so a session cut by an item-level cohort would not be one.
    """
    order = np.lexsort((step, session_id))
    sid = session_id[order]
    first = np.ones(sid.shape[0], bool)
    first[1:] = sid[1:] != sid[:-1]
    chosen = sid[first & mask[order]]
    return np.isin(session_id, chosen)


def _bandit_estimates(
    estimators: Sequence[BaseOffPolicyEstimator],
    inputs: RoundInputs,
    *,
    reward_name: str,
    cohort: str,
    alpha: float,
    n_bootstrap_samples: int,
    rng: np.random.Generator,
    method: BootstrapMethod,
    tiny_pscore: float,
) -> list[OPEEstimate]:
    """All estimators plus the logged mean, on one shared set of bootstrap resamples."""
    blocks = [inputs.reward[:, None]] + [e.round_columns(inputs) for e in estimators]
    widths = [b.shape[1] for b in blocks]
    cols = np.hstack(blocks)
    means = bootstrap_column_means(cols, n_bootstrap_samples, rng, method=method)
    point = cols.mean(axis=0)
    out = []
    start = 0
    ones = np.ones(inputs.n_rounds)
    for i, width in enumerate(widths):
        sl = slice(start, start + width)
        start += width
        with np.errstate(divide="ignore", invalid="ignore"):
            if i == 0:
                name, estimate, boot = "logged", float(point[sl][0]), means[:, sl][:, 0]
                diag = overlap_diagnostics(ones, inputs.pscore, tiny_pscore=tiny_pscore)
            else:
                est = estimators[i - 1]
                name = est.estimator_name
                estimate = float(est.combine(point[sl]))
                boot = est.combine(means[:, sl])
                diag = est.diagnostics(inputs, tiny_pscore)
        low, high = percentile_interval(boot, alpha)
        out.append(
            OPEEstimate(
                name,
                estimate,
                low,
                high,
                alpha,
                n_bootstrap_samples,
                diag,
                reward=reward_name,
                level="round",
                cohort=cohort,
            )
        )
    return out


def evaluate_logs(
    log: Mapping[str, Any] | Any,
    action_dist: SparseActionDist | NDArray[np.float64],
    *,
    rewards: Sequence[str] = ("finish",),
    session_rewards: Sequence[str] = ("finish", "listen_seconds"),
    cohorts: Sequence[str] = (),
    context: Sequence[str] = (),
    columns: LogColumns | None = None,
    reward_model: RewardModel | None = None,
    estimators: Sequence[BaseOffPolicyEstimator] | None = None,
    session_estimators: Sequence[PerDecisionImportanceSampling] | None = None,
    n_folds: int = 5,
    alpha: float = 0.05,
    n_bootstrap_samples: int = 200,
    method: BootstrapMethod = "multinomial",
    tiny_pscore: float = DEFAULT_TINY_PSCORE,
    rng: RandomState = None,
) -> OPEResults:
    """Estimate an evaluation policy's value from a logged table, by estimator and cohort.

    Args:
        log: A pandas DataFrame or a mapping of column name to array, one row per
            impression, in the same row order as ``action_dist``.
        action_dist: The evaluation policy on the log's rows: a :class:`SparseActionDist`
            over item ids (candidate sets) or a dense ``(n_rounds, n_actions, len_list)``
            array over item ids ``0 .. n_actions - 1``.
        rewards: Reward columns estimated per impression (e.g. ``finish``).
        session_rewards: Reward columns whose per-session total is estimated by PDIS and
            WPDIS (e.g. ``finish``, ``listen_seconds``); empty to skip.
        cohorts: Columns whose values define cohorts (e.g. ``cohort`` with new/old,
            ``item_group`` with head/tail); each value gets its own estimates.
        context: Numeric columns given to the reward model as context features.
        columns: Names of the action, pscore, session, step, position and group columns.
        reward_model: Reward model for DM/DR; default: ridge on context and item one-hot
            if ``context`` is given, else per-item shrunk means.
        estimators: Bandit estimators; default :func:`default_estimators`.
        session_estimators: Session estimators; default :func:`default_session_estimators`.
        n_folds: Cross-fitting folds for the reward model.
        alpha: Significance level of the intervals.
        n_bootstrap_samples: Bootstrap resamples per (reward, cohort).
        method: Bootstrap scheme (``"multinomial"`` or ``"poisson"``).
        tiny_pscore: Threshold for the diagnostics' share of tiny propensities.
        rng: Seed or generator (folds and bootstrap draw independent child streams).

    Returns:
        The estimates: for every reward and cohort, ``logged`` and each bandit estimator
        (level ``"round"``); for every session reward and cohort, each session estimator
        (level ``"session"``).
    """
    cols = columns or LogColumns()
    estimators = tuple(estimators) if estimators is not None else default_estimators()
    session_estimators = (
        tuple(session_estimators)
        if session_estimators is not None
        else default_session_estimators()
    )
    gen = np.random.default_rng(rng)
    action = _column(log, cols.action)
    n_rounds = int(action.shape[0])
    pscore = _column(log, cols.pscore)
    position = None if cols.position is None else _column(log, cols.position)
    ctx = (
        np.column_stack([_column(log, c).astype(np.float64) for c in context]) if context else None
    )
    groups = None if cols.group is None else _column(log, cols.group)
    model = reward_model or (RidgeRewardModel() if context else ShrunkMeanRewardModel())
    if isinstance(action_dist, SparseActionDist):
        candidates = action_dist.candidates
    else:
        dense = np.asarray(action_dist)
        if dense.ndim != 3:
            raise AnalysisError(
                f"action_dist must have shape (n_rounds, n_actions, len_list), got {dense.shape}"
            )
        candidates = np.broadcast_to(np.arange(dense.shape[1]), (n_rounds, dense.shape[1]))
    masks = _cohort_masks(log, cohorts, n_rounds)
    results: list[OPEEstimate] = []
    for reward_name in rewards:
        reward = _column(log, reward_name)
        q_hat = None
        if any(e.requires_reward_model for e in estimators):
            fit = cross_fit_predict(
                model,
                action,
                reward,
                candidates,
                context=ctx,
                n_folds=n_folds,
                groups=groups,
                rng=gen.spawn(1)[0],
            )
            q_hat = fit.q_hat_candidates
            if not isinstance(action_dist, SparseActionDist):
                q_hat = np.repeat(q_hat[:, :, None], np.shape(action_dist)[2], axis=2)
        inputs = reduce_inputs(reward, action, pscore, action_dist, position, q_hat)
        for label, mask in masks:
            sub = inputs if mask is None else inputs.subset(mask)
            if sub.n_rounds == 0:
                continue
            results += _bandit_estimates(
                estimators,
                sub,
                reward_name=reward_name,
                cohort=label,
                alpha=alpha,
                n_bootstrap_samples=n_bootstrap_samples,
                rng=gen.spawn(1)[0],
                method=method,
                tiny_pscore=tiny_pscore,
            )
    if session_rewards and session_estimators:
        pi_e = reduce_inputs(np.zeros(n_rounds), action, pscore, action_dist, position).pi_e_factual
        session_id = _column(log, cols.session)
        step = _column(log, cols.step)
        for reward_name in session_rewards:
            reward = _column(log, reward_name)
            for label, mask in masks:
                keep = (
                    np.ones(n_rounds, bool)
                    if mask is None
                    else _session_rows(mask, session_id, step)
                )
                if not keep.any():
                    continue
                for est in session_estimators:
                    sess = reduce_sessions(
                        session_id[keep],
                        step[keep],
                        reward[keep],
                        pscore[keep],
                        pi_e[keep],
                        est.max_weight,
                    )
                    results.append(
                        est.interval_from_inputs(
                            sess,
                            alpha=alpha,
                            n_bootstrap_samples=n_bootstrap_samples,
                            random_state=gen.spawn(1)[0],
                            method=method,
                            tiny_pscore=tiny_pscore,
                            reward_name=reward_name,
                            cohort=label,
                        )
                    )
    return OPEResults(tuple(results))
