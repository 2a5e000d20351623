"""Session-level OPE: per-decision importance sampling of a session's total reward.

A session is a sequence of steps ``t = 0, 1, ...`` (one song each); what the user does at a
step depends on the songs before it (patience falls with skips), so the value of a policy
over a session is not a sum of independent bandit rounds. Per-decision importance sampling
weights the reward at step ``t`` by the product of the weights of the decisions up to ``t``
(Precup, Sutton and Singh 2000, "Eligibility Traces for Off-Policy Policy Evaluation"):

    rho_{s,t} = prod_{u <= t} pi_e(a_{s,u} | h_{s,u}) / pi_b(a_{s,u} | h_{s,u}),

    PDIS  = (1 / S) sum_s sum_t rho_{s,t} r_{s,t},

    WPDIS = sum_t [ sum_s rho_{s,t} r_{s,t} / sum_s rho_{s,t} ].

Sessions end when the user leaves, which the policy influences; a session that ended
before step ``t`` is padded with reward 0 and its last cumulative weight carried forward
(an absorbing state in which both policies agree), so PDIS stays unbiased and WPDIS
(weighted per-decision IS, Precup et al. 2000; Thomas 2015) normalises each step by all
sessions. Intervals resample whole sessions (a cluster bootstrap); diagnostics describe
the sessions' final cumulative weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError
from analysis.ope._checks import (
    as_float_array,
    as_int_array,
    check_length,
    check_pscore,
    check_weight_bound,
)
from analysis.ope.base import ActionDist, reduce_inputs
from analysis.ope.bootstrap import BootstrapMethod, RandomState, estimate_with_interval
from analysis.ope.diagnostics import DEFAULT_TINY_PSCORE, OverlapDiagnostics, overlap_diagnostics
from analysis.ope.results import OPEEstimate


@dataclass(frozen=True, eq=False)
class SessionInputs:
    """A log arranged by session, with each step's cumulative weight.

    Attributes:
        session_index: Dense session index ``0 .. n_sessions - 1`` of each row (sorted).
        step_index: Step within the session ``0, 1, ...`` of each row (sorted).
        cum_weight: ``rho_{s,t}`` of each row (with clipping applied per step).
        reward: Reward of each row.
        pscore: Logged propensity of each row.
        final_weight: Each session's last cumulative weight, unclipped, ``(n_sessions,)``.
        session_ids: The original id of each dense session index.
    """

    session_index: NDArray[np.int64]
    step_index: NDArray[np.int64]
    cum_weight: NDArray[np.float64]
    reward: NDArray[np.float64]
    pscore: NDArray[np.float64]
    final_weight: NDArray[np.float64]
    session_ids: NDArray[np.int64]

    @property
    def n_sessions(self) -> int:
        """Number of sessions."""
        return int(self.session_ids.shape[0])


def _grouped_cumprod(
    values: NDArray[np.float64], session_index: NDArray[np.int64], starts: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Cumulative product within each session (rows sorted by session, then step)."""
    # Zeros are counted apart from the logs: log(0) would turn the subtraction of the
    # session's starting offset into inf - inf.
    zero = values == 0.0
    logs = np.log(np.where(zero, 1.0, values))
    cum_log = np.cumsum(logs)
    cum_zero = np.cumsum(zero)
    offset_log = cum_log[starts] - logs[starts]
    offset_zero = cum_zero[starts] - zero[starts]
    within_log = cum_log - offset_log[session_index]
    within_zero = cum_zero - offset_zero[session_index]
    return np.where(within_zero > 0, 0.0, np.exp(within_log))


def reduce_sessions(
    session_id: ArrayLike,
    step: ArrayLike | None,
    reward: ArrayLike,
    pscore: ArrayLike,
    pi_e_factual: ArrayLike,
    max_weight: float = np.inf,
) -> SessionInputs:
    """Sort a log by session and step and compute per-decision cumulative weights.

    Args:
        session_id: Session of each row, shape ``(n_rounds,)``.
        step: Step of each row within its session; None keeps the rows' order.
        reward: Reward of each row.
        pscore: Logged propensity of each row, in (0, 1].
        pi_e_factual: Evaluation policy's probability of each logged action.
        max_weight: Clip each step's weight before taking products.
    """
    reward_arr = as_float_array(reward, "reward", 1)
    n = reward_arr.shape[0]
    sid = as_int_array(session_id, "session_id")
    check_length(sid, "session_id", n, "reward")
    pscore_arr = as_float_array(pscore, "pscore", 1)
    check_length(pscore_arr, "pscore", n, "reward")
    check_pscore(pscore_arr)
    pi_e = as_float_array(pi_e_factual, "pi_e_factual", 1)
    check_length(pi_e, "pi_e_factual", n, "reward")
    if n == 0:
        raise AnalysisError("reward has 0 rounds, need at least 1 session")
    if step is None:
        order = np.argsort(sid, kind="stable")
    else:
        step_arr = as_int_array(step, "step")
        check_length(step_arr, "step", n, "reward")
        order = np.lexsort((step_arr, sid))
    sid_sorted = sid[order]
    new = np.empty(n, bool)
    new[0] = True
    new[1:] = sid_sorted[1:] != sid_sorted[:-1]
    starts = np.flatnonzero(new)
    session_index = np.cumsum(new) - 1
    step_index = np.arange(n) - starts[session_index]
    if step is not None:
        steps_sorted = step_arr[order]
        dup = (steps_sorted[1:] == steps_sorted[:-1]) & ~new[1:]
        if dup.any():
            i = int(np.argmax(dup)) + 1
            raise AnalysisError(
                f"step repeats {int(steps_sorted[i])} in session_id {int(sid_sorted[i])}; "
                "each (session_id, step) must be unique"
            )
    raw = pi_e[order] / pscore_arr[order]
    used = raw if np.isinf(max_weight) else np.minimum(raw, max_weight)
    cum_used = _grouped_cumprod(used, session_index, starts)
    cum_raw = cum_used if np.isinf(max_weight) else _grouped_cumprod(raw, session_index, starts)
    ends = np.append(starts[1:], n) - 1
    return SessionInputs(
        session_index=session_index.astype(np.int64),
        step_index=step_index.astype(np.int64),
        cum_weight=cum_used,
        reward=reward_arr[order],
        pscore=pscore_arr[order],
        final_weight=cum_raw[ends],
        session_ids=sid_sorted[starts],
    )


@dataclass(frozen=True)
class PerDecisionImportanceSampling:
    """Per-decision importance sampling (PDIS) or its weighted form (WPDIS).

    See the module docstring for the formulas.

    Attributes:
        self_normalized: False for PDIS, True for WPDIS.
        max_weight: Clip each step's weight at this value before the products.
        estimator_name: Short name in results (default ``"pdis"`` or ``"wpdis"``).
    """

    self_normalized: bool = False
    max_weight: float = np.inf
    estimator_name: str = ""

    def __post_init__(self) -> None:
        check_weight_bound(self.max_weight, "max_weight")
        if not self.estimator_name:
            name = "wpdis" if self.self_normalized else "pdis"
            object.__setattr__(self, "estimator_name", name)

    def session_columns(self, inputs: SessionInputs) -> NDArray[np.float64]:
        """Per-session columns whose means :meth:`combine` maps to the estimate.

        PDIS: one column, ``sum_t rho_{s,t} r_{s,t}``. WPDIS: ``2 T`` columns for the
        longest session's ``T`` steps, ``rho_{s,t} r_{s,t}`` and ``rho_{s,t}`` (the weight
        carried forward after the session ended), memory ``n_sessions x 2 T``.
        """
        contrib = inputs.cum_weight * inputs.reward
        if not self.self_normalized:
            per_session = np.bincount(
                inputs.session_index, weights=contrib, minlength=inputs.n_sessions
            )
            return per_session.astype(np.float64)[:, None]
        n_steps = int(inputs.step_index.max()) + 1
        num = np.zeros((inputs.n_sessions, n_steps))
        num[inputs.session_index, inputs.step_index] = contrib
        den = np.full((inputs.n_sessions, n_steps), np.nan)
        den[inputs.session_index, inputs.step_index] = inputs.cum_weight
        # Carry each session's last weight forward over the steps after it ended.
        last = np.where(np.isnan(den), 0, np.arange(n_steps)[None, :])
        np.maximum.accumulate(last, axis=1, out=last)
        den = np.take_along_axis(den, last, axis=1)
        return np.hstack([num, den])

    def combine(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        """PDIS: the mean; WPDIS: ``sum_t mean(rho_t r_t) / mean(rho_t)``."""
        if not self.self_normalized:
            return means[..., 0]
        n_steps = means.shape[-1] // 2
        num, den = means[..., :n_steps], means[..., n_steps:]
        ratio = np.where(num == 0.0, 0.0, num / np.where(den == 0.0, np.nan, den))
        return ratio.sum(axis=-1)

    def _reduce(
        self,
        reward: ArrayLike,
        session_id: ArrayLike,
        step: ArrayLike | None,
        action: ArrayLike,
        pscore: ArrayLike,
        action_dist: ActionDist,
        position: ArrayLike | None,
    ) -> SessionInputs:
        rounds = reduce_inputs(reward, action, pscore, action_dist, position)
        return reduce_sessions(
            session_id, step, rounds.reward, rounds.pscore, rounds.pi_e_factual, self.max_weight
        )

    def estimate_policy_value(
        self,
        reward: ArrayLike,
        session_id: ArrayLike,
        step: ArrayLike | None,
        action: ArrayLike,
        pscore: ArrayLike,
        action_dist: ActionDist,
        position: ArrayLike | None = None,
    ) -> float:
        """The evaluation policy's expected total session reward (arguments as in
        :func:`~analysis.ope.base.reduce_inputs`, plus each row's session and step)."""
        inputs = self._reduce(reward, session_id, step, action, pscore, action_dist, position)
        return self.estimate_from_inputs(inputs)

    def estimate_from_inputs(self, inputs: SessionInputs) -> float:
        """The point estimate from reduced session inputs."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(self.combine(self.session_columns(inputs).mean(axis=0)))

    def diagnostics(
        self, inputs: SessionInputs, tiny_pscore: float = DEFAULT_TINY_PSCORE
    ) -> OverlapDiagnostics:
        """Diagnostics of the sessions' final cumulative weights (``n_rounds`` counts
        sessions; ``share_tiny_pscore`` counts steps)."""
        used = inputs.final_weight
        if not np.isinf(self.max_weight):
            ends = np.append(np.flatnonzero(np.diff(inputs.session_index)), inputs.reward.size - 1)
            used = inputs.cum_weight[ends]
        return overlap_diagnostics(
            inputs.final_weight, inputs.pscore, used_weights=used, tiny_pscore=tiny_pscore
        )

    def estimate_interval(
        self,
        reward: ArrayLike,
        session_id: ArrayLike,
        step: ArrayLike | None,
        action: ArrayLike,
        pscore: ArrayLike,
        action_dist: ActionDist,
        position: ArrayLike | None = None,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 100,
        random_state: RandomState = None,
        *,
        method: BootstrapMethod = "multinomial",
        tiny_pscore: float = DEFAULT_TINY_PSCORE,
        reward_name: str = "reward",
    ) -> OPEEstimate:
        """The estimate with a session-bootstrap ``1 - alpha`` interval and diagnostics."""
        inputs = self._reduce(reward, session_id, step, action, pscore, action_dist, position)
        return self.interval_from_inputs(
            inputs,
            alpha=alpha,
            n_bootstrap_samples=n_bootstrap_samples,
            random_state=random_state,
            method=method,
            tiny_pscore=tiny_pscore,
            reward_name=reward_name,
        )

    def interval_from_inputs(
        self,
        inputs: SessionInputs,
        *,
        alpha: float = 0.05,
        n_bootstrap_samples: int = 100,
        random_state: RandomState = None,
        method: BootstrapMethod = "multinomial",
        tiny_pscore: float = DEFAULT_TINY_PSCORE,
        reward_name: str = "reward",
        cohort: str = "all",
    ) -> OPEEstimate:
        """:meth:`estimate_interval` on reduced session inputs."""
        cols = self.session_columns(inputs)
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = float(self.combine(cols.mean(axis=0)))
        return estimate_with_interval(
            self.estimator_name,
            estimate,
            cols,
            self.combine,
            diagnostics=self.diagnostics(inputs, tiny_pscore),
            level="session",
            alpha=alpha,
            n_bootstrap_samples=n_bootstrap_samples,
            random_state=random_state,
            method=method,
            reward_name=reward_name,
            cohort=cohort,
        )
