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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.behavior import sigmoid
from simulator.config import WorldConfig
from simulator.noise import Noise
from simulator.population import MINUTES_PER_DAY, UserTable


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
        w = self.config.retention.satisfaction_smoothing
        share = self._finishes[seen] / self._steps[seen]
        self.satisfaction[seen] = (1.0 - w) * self.satisfaction[seen] + w * share
        self._steps[:] = 0
        self._finishes[:] = 0

    def return_probability(self, user_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """``P(open today)`` of each user given the current satisfaction."""
        u = self.config.users
        r = self.config.retention
        z = self.users.activity[user_ids]
        logit = (
            u.return_logit_mean
            + u.return_logit_activity * z
            + r.satisfaction_beta * (self.satisfaction[user_ids] - r.initial_satisfaction)
        )
        return sigmoid(logit)

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
        day_start = day * MINUTES_PER_DAY
        window_start = np.maximum(self.users.registration_minute[active], day_start)
        window = (day_start + MINUTES_PER_DAY) - window_start

        ucfg = self.config.users
        mean_extra = ucfg.extra_sessions_mean * np.exp(
            ucfg.activity_sigma * self.users.activity[active]
        )
        # Geometric K with P(K >= k) = (1 - q)^k and mean (1 - q) / q = mean_extra.
        q = 1.0 / (1.0 + mean_extra)
        u = self.noise.uniform("n_sessions", active, day)
        with np.errstate(divide="ignore"):
            extra = np.floor(np.log(u) / np.log1p(-q))
        extra = np.where(mean_extra > 0, extra, 0.0)
        n_sessions = 1 + np.minimum(extra, ucfg.max_sessions_per_day - 1).astype(np.int64)

        user = np.repeat(active, n_sessions)
        first = np.cumsum(n_sessions) - n_sessions
        index = np.arange(user.shape[0], dtype=np.int64) - np.repeat(first, n_sessions)
        n_rep = np.repeat(n_sessions, n_sessions)
        u_start = self.noise.uniform("session_start", user, day, index)
        offset = np.floor((index + u_start) * np.repeat(window, n_sessions) / n_rep)
        start = np.repeat(window_start, n_sessions) + offset.astype(np.int64)
        order = np.lexsort((index, user, start))
        return DaySchedule(user=user[order], index=index[order], start_minute=start[order])


__all__ = ["DaySchedule", "Retention"]
