"""Evaluate a policy on a logged table: every estimator, with intervals, overall and by cohort.

:func:`evaluate_logs` is what ``adasim ope RUN_DIR`` calls: given the control arm's event
log (one row per impression, with the columns of the event contract: ``item_id``,
``pscore``, ``session_id``, ``step``, rewards such as ``finish`` and ``listen_seconds``,
optional cohort columns) and the evaluation (treatment) policy's candidate-set action
distribution on the same rows, it returns

* per impression, for each reward: the seven bandit estimators (IPS, SNIPS, DM, DR, SNDR,
  Switch-DR, DR-OS) plus the log's own mean (``"logged"``, the logging policy's value);
* per session, for each session reward: PDIS and WPDIS of the session total, beside the
  log's mean session total;
* with ``include_effects``, each estimator's effect: its value minus the logged value,
  the offline counterpart of an A/B test's absolute effect;

each with a percentile bootstrap interval and overlap diagnostics, for the whole log and
for each value of each cohort column. All estimators of one (reward, level, cohort) share
the same bootstrap resamples (rounds, or whole sessions), so their intervals are paired
and an effect's interval accounts for the correlation of its two terms.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError, SchemaError
from analysis.ope._checks import check_alpha, check_positive_int
from analysis.ope.base import BaseOffPolicyEstimator, reduce_inputs
from analysis.ope.bootstrap import (
    BootstrapMethod,
    RandomState,
    bootstrap_column_means,
    percentile_interval,
)
from analysis.ope.diagnostics import (
    DEFAULT_TINY_PSCORE,
    OverlapDiagnostics,
    overlap_diagnostics,
)
from analysis.ope.dm import DirectMethod
from analysis.ope.dr import (
    DoublyRobust,
    DoublyRobustWithShrinkage,
    SelfNormalizedDoublyRobust,
    SwitchDoublyRobust,
)
from analysis.ope.ips import InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting
from analysis.ope.results import Level, OPEEstimate, OPEResults, Quantity
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


@dataclass(frozen=True, eq=False)
class _Term:
    """One estimator's share of a shared bootstrap: its columns, combine and diagnostics."""

    name: str
    columns: NDArray[np.float64]
    combine: Callable[[NDArray[np.float64]], NDArray[np.float64]]
    diagnostics: OverlapDiagnostics


def _first_column(means: NDArray[np.float64]) -> NDArray[np.float64]:
    return means[..., 0]


def _shared_estimates(
    logged: _Term,
    terms: Sequence[_Term],
    *,
    reward_name: str,
    level: Level,
    cohort: str,
    effects: bool,
    alpha: float,
    n_bootstrap_samples: int,
    rng: np.random.Generator,
    method: BootstrapMethod,
) -> list[OPEEstimate]:
    """The logged value and every term's value (and effect), on one set of resamples.

    Resampling the units (rounds or sessions) once for all columns makes every interval
    paired: the effect ``term - logged`` is computed within each resample.
    """
    blocks = [logged, *terms]
    widths = [t.columns.shape[1] for t in blocks]
    cols = np.hstack([t.columns for t in blocks])
    means = bootstrap_column_means(cols, n_bootstrap_samples, rng, method=method)
    point = cols.mean(axis=0)
    bounds = np.cumsum([0, *widths])
    spans = list(itertools.pairwise(bounds))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = [float(t.combine(point[a:b])) for t, (a, b) in zip(blocks, spans, strict=True)]
        boots = [t.combine(means[:, a:b]) for t, (a, b) in zip(blocks, spans, strict=True)]

    def record(
        t: _Term, estimate: float, boot: NDArray[np.float64], quantity: Quantity
    ) -> OPEEstimate:
        low, high = percentile_interval(boot, alpha)
        return OPEEstimate(
            estimator=t.name,
            estimate=estimate,
            ci_lower=low,
            ci_upper=high,
            alpha=alpha,
            n_bootstrap_samples=n_bootstrap_samples,
            diagnostics=t.diagnostics,
            reward=reward_name,
            level=level,
            cohort=cohort,
            quantity=quantity,
        )

    out = [record(t, v, b, "value") for t, v, b in zip(blocks, values, boots, strict=True)]
    if effects:
        out += [
            record(t, v - values[0], b - boots[0], "effect")
            for t, v, b in zip(terms, values[1:], boots[1:], strict=True)
        ]
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
    include_effects: bool = True,
    rng: RandomState = None,
    on_block: Callable[[str, int, int], None] | None = None,
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
        include_effects: Also report each estimator's effect, its value minus the logged
            value (``quantity="effect"``), with a paired interval.
        rng: Seed or generator (folds and bootstrap draw independent child streams).
        on_block: Called after each (reward, level, cohort) block with its label, the
            blocks done and the blocks in all, e.g. to advance a progress bar; the
            numbers are checked before any block runs, so a bad one fails at once.

    Returns:
        The estimates: for every reward and cohort, ``logged`` and each bandit estimator
        (level ``"round"``); for every session reward and cohort, ``logged`` (the mean
        session total) and each session estimator (level ``"session"``); with
        ``include_effects``, each estimator's effect over ``logged`` as well.
    """
    check_positive_int(n_bootstrap_samples, "n_bootstrap_samples")
    check_positive_int(n_folds, "n_folds")
    check_alpha(alpha)
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
    with_sessions = bool(session_rewards) and bool(session_estimators)
    n_blocks = len(masks) * (len(rewards) + (len(session_rewards) if with_sessions else 0))
    n_done = 0

    def advance(label: str) -> None:
        nonlocal n_done
        n_done += 1
        if on_block is not None:
            on_block(label, n_done, n_blocks)

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
                advance(f"{reward_name}/round/{label}")
                continue
            logged = _Term(
                "logged",
                sub.reward[:, None],
                _first_column,
                overlap_diagnostics(np.ones(sub.n_rounds), sub.pscore, tiny_pscore=tiny_pscore),
            )
            terms = [
                _Term(
                    e.estimator_name,
                    e.round_columns(sub),
                    e.combine,
                    e.diagnostics(sub, tiny_pscore),
                )
                for e in estimators
            ]
            results += _shared_estimates(
                logged,
                terms,
                reward_name=reward_name,
                level="round",
                cohort=label,
                effects=include_effects,
                alpha=alpha,
                n_bootstrap_samples=n_bootstrap_samples,
                rng=gen.spawn(1)[0],
                method=method,
            )
            advance(f"{reward_name}/round/{label}")
    if with_sessions:
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
                    advance(f"{reward_name}/session/{label}")
                    continue
                sessions = [
                    reduce_sessions(
                        session_id[keep],
                        step[keep],
                        reward[keep],
                        pscore[keep],
                        pi_e[keep],
                        est.max_weight,
                    )
                    for est in session_estimators
                ]
                # Every reduction sorts the same rows the same way: one session order.
                first = sessions[0]
                totals = np.bincount(
                    first.session_index, weights=first.reward, minlength=first.n_sessions
                )
                logged = _Term(
                    "logged",
                    totals.astype(np.float64)[:, None],
                    _first_column,
                    overlap_diagnostics(
                        np.ones(first.n_sessions), first.pscore, tiny_pscore=tiny_pscore
                    ),
                )
                terms = [
                    _Term(
                        est.estimator_name,
                        est.session_columns(sess),
                        est.combine,
                        est.diagnostics(sess, tiny_pscore),
                    )
                    for est, sess in zip(session_estimators, sessions, strict=True)
                ]
                results += _shared_estimates(
                    logged,
                    terms,
                    reward_name=reward_name,
                    level="session",
                    cohort=label,
                    effects=include_effects,
                    alpha=alpha,
                    n_bootstrap_samples=n_bootstrap_samples,
                    rng=gen.spawn(1)[0],
                    method=method,
                )
                advance(f"{reward_name}/session/{label}")
    return OPEResults(tuple(results))
