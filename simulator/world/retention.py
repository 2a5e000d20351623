"""Retention: who opens the app each day, how many sessions, and when they start.

Each user carries a satisfaction state ``s`` (float per user, vectorised). Every day:

.. math::

    P(\\text{open on day } d) = \\sigma\\big(\\mu + \\lambda z_u + \\beta (s_u - s_0)\\big),

with ``mu = return_logit_mean``, ``lambda = return_logit_activity``, ``z_u`` the user's
activity score, ``beta = satisfaction_beta`` and ``s_0 = initial_satisfaction``. After a
day with listening, ``s <- (1 - w) s + w * (finishes / steps of that day)`` with
``w = satisfaction_smoothing``. This is the only path from recommendation quality to
active days.

An active user has ``1 + K`` sessions, ``K`` geometric with mean
``extra_sessions_mean * exp(activity_sigma * z_u)`` capped at ``max_sessions_per_day - 1``;
session ``j`` of ``n`` starts uniformly in the ``j``-th of ``n`` equal slices of the user's
day (from the registration minute on the registration day). A user is always active on
the day of registration. All draws are keyed uniforms (common random numbers).

The formulas are module functions (:func:`return_probability`, :func:`fold_satisfaction`,
:func:`day_window`, :func:`session_counts`, :func:`session_start`) of per-row arrays, so
that one user's days can be followed on their own (:mod:`adasim.envs`) with the very
numbers :class:`Retention` gives the whole population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.config import UserConfig, WorldConfig
from simulator.world.behavior import sigmoid
from simulator.world.noise import Noise
from simulator.world.population import MINUTES_PER_DAY, UserTable


@dataclass(frozen=True)
class DaySchedule:
    """Sessions of one day sorted by start minute (then user, then index).

    Attributes:
        user: ``(S,)`` user ids.
        index: ``(S,)`` index of the session among the user's sessions that day.
        start_minute: ``(S,)`` minute the session starts.
    """

    user: NDArray[np.int64]
    index: NDArray[np.int64]
    start_minute: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.user.shape[0])


def return_probability(
    activity: NDArray[np.float64], satisfaction: NDArray[np.float64], config: WorldConfig
) -> NDArray[np.float64]:
    """``P(open on a day) = sigmoid(mu + lambda z + beta (s - s0))``, elementwise.

    Args:
        activity: ``(B,)`` the users' activity scores ``z``.
        satisfaction: ``(B,)`` their satisfaction states ``s``.
        config: The world config (``users`` and ``retention`` sections).
    """
    u = config.users
    r = config.retention
    logit = (
        u.return_logit_mean
        + u.return_logit_activity * activity
        + r.satisfaction_beta * (satisfaction - r.initial_satisfaction)
    )
    return sigmoid(logit)


def fold_satisfaction(
    satisfaction: NDArray[np.float64],
    finishes: NDArray[np.int64],
    steps: NDArray[np.int64],
    smoothing: float,
) -> NDArray[np.float64]:
    """``(1 - w) s + w * finishes / steps``: the state after a day with ``steps > 0`` songs."""
    share = finishes / steps
    out: NDArray[np.float64] = (1.0 - smoothing) * satisfaction + smoothing * share
    return out


def day_window(
    registration_minute: NDArray[np.int64], day: int | NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The part of ``day`` a user can listen in: ``(window_start, window)`` in minutes.

    The day from its start, or from the registration minute on the registration day.
    """
    day_start = day * MINUTES_PER_DAY
    window_start = np.maximum(registration_minute, day_start)
    window = (day_start + MINUTES_PER_DAY) - window_start
    return window_start, window


def session_counts(
    activity: NDArray[np.float64], uniform: NDArray[np.float64], ucfg: UserConfig
) -> NDArray[np.int64]:
    """Sessions of an active day, ``1 + min(K, max_sessions_per_day - 1)``.

    ``K`` is geometric, ``P(K >= k) = (1 - q)^k``, with mean ``(1 - q) / q =
    extra_sessions_mean * exp(activity_sigma * z)``, drawn by inversion of ``uniform``.
    """
    mean_extra = ucfg.extra_sessions_mean * np.exp(ucfg.activity_sigma * activity)
    q = 1.0 / (1.0 + mean_extra)
    with np.errstate(divide="ignore"):
        extra = np.floor(np.log(uniform) / np.log1p(-q))
    extra = np.where(mean_extra > 0, extra, 0.0)
    out: NDArray[np.int64] = 1 + np.minimum(extra, ucfg.max_sessions_per_day - 1).astype(np.int64)
    return out


def session_start(
    window_start: NDArray[np.int64],
    window: NDArray[np.int64],
    n_sessions: NDArray[np.int64],
    index: NDArray[np.int64],
    uniform: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Start minute of session ``index`` of ``n_sessions``: uniform in its slice of the window."""
    offset = np.floor((index + uniform) * window / n_sessions)
    out: NDArray[np.int64] = window_start + offset.astype(np.int64)
    return out


class Retention:
    """Satisfaction state and daily return decisions for every user of the horizon.

    Args:
        users: The user table.
        config: The world config.
        noise: Keyed uniforms.
    """

    def __init__(self, users: UserTable, config: WorldConfig, noise: Noise) -> None:
        self.users = users
        self.config = config
        self.noise = noise
        n = len(users)
        self.satisfaction = np.full(n, config.retention.initial_satisfaction)
        self._steps = np.zeros(n, dtype=np.int64)
        self._finishes = np.zeros(n, dtype=np.int64)

    def record(self, user_ids: NDArray[np.int64], finish: NDArray[np.bool_]) -> None:
        """Accumulate the served steps of the current day (a user may repeat in a batch)."""
        np.add.at(self._steps, user_ids, 1)
        np.add.at(self._finishes, user_ids, finish.astype(np.int64))

    def end_day(self) -> None:
        """Fold the day's finish share into the satisfaction of users who listened."""
        seen = self._steps > 0
        self.satisfaction[seen] = fold_satisfaction(
            self.satisfaction[seen],
            self._finishes[seen],
            self._steps[seen],
            self.config.retention.satisfaction_smoothing,
        )
        self._steps[:] = 0
        self._finishes[:] = 0

    def return_probability(self, user_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """``P(open today)`` of each user given the current satisfaction."""
        return return_probability(
            self.users.activity[user_ids], self.satisfaction[user_ids], self.config
        )

    def schedule_day(self, day: int, n_before: int, n_by_end: int) -> DaySchedule:
        """Decide who opens the app on ``day`` and when their sessions start.

        Args:
            day: The day (0-based from the run's start).
            n_before: Users registered before the day starts (ids ``0 .. n_before - 1``).
            n_by_end: Users registered by the day's end (``n_before ..`` arrive today).

        Returns:
            The day's sessions sorted by start minute.
        """
        old = np.arange(n_before, dtype=np.int64)
        returns = self.noise.uniform("return", old, day) < self.return_probability(old)
        new = np.arange(n_before, n_by_end, dtype=np.int64)
        active = np.concatenate([old[returns], new])
        window_start, window = day_window(self.users.registration_minute[active], day)
        n_sessions = session_counts(
            self.users.activity[active],
            self.noise.uniform("n_sessions", active, day),
            self.config.users,
        )

        user = np.repeat(active, n_sessions)
        first = np.cumsum(n_sessions) - n_sessions
        index = np.arange(user.shape[0], dtype=np.int64) - np.repeat(first, n_sessions)
        n_rep = np.repeat(n_sessions, n_sessions)
        u_start = self.noise.uniform("session_start", user, day, index)
        start = session_start(
            np.repeat(window_start, n_sessions),
            np.repeat(window, n_sessions),
            n_rep,
            index,
            u_start,
        )
        order = np.lexsort((index, user, start))
        return DaySchedule(user=user[order], index=index[order], start_minute=start[order])


__all__ = [
    "DaySchedule",
    "Retention",
    "day_window",
    "fold_satisfaction",
    "return_probability",
    "session_counts",
    "session_start",
]
