"""Live sessions as a struct of arrays, and how one step changes them.

A session is a sequence of single-song steps. Its clock advances by the listen time of
each song; its patience starts at the user's level and falls with each skip, more after
consecutive skips:

.. math::

    P \\leftarrow P - (c_{skip} + c_{consec} k)\\ \\text{on a skip},\\qquad
    P \\leftarrow P + g\\ \\text{on a finish},

where ``k`` is the number of skips right before this one. The session ends when
``P <= 0``, when the user quits (a per-user hazard per step, :func:`quit_hazards`; a keyed uniform), or
after ``max_steps`` songs. All sessions of a time bucket advance together, one numpy batch
per step; no Python loop over users.

A session also carries the state of a distraction episode (noisy skips,
:mod:`simulator.world.behavior`): the songs still to be skipped after the current one. It
starts at 0 (undistracted) and is the only behavioural state besides patience.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import NDArray

from simulator.config import SessionConfig
from simulator.world.noise import KeyedDraws


@dataclass
class SessionBatch:
    """Sessions as parallel arrays (mutable: the engine's working state).

    Attributes:
        user: ``(S,)`` user ids.
        session_id: ``(S,)`` globally unique session ids.
        day: ``(S,)`` the day the session started (a key of its random numbers).
        index: ``(S,)`` position of the session among the user's sessions that day (a key).
        step: ``(S,)`` next step to serve (0-based).
        clock: ``(S,)`` float64 seconds since minute 0 at which the next song starts.
        patience: ``(S,)`` float64 remaining patience.
        consecutive_skips: ``(S,)`` skips in a row right before the next step.
        distraction_left: ``(S,)`` int64 songs of a distraction episode still to be skipped
            before the next step is undistracted (0: none running). Optional when
            constructing: an empty array stands for all zeros (sessions start undistracted).
    """

    user: NDArray[np.int64]
    session_id: NDArray[np.int64]
    day: NDArray[np.int64]
    index: NDArray[np.int64]
    step: NDArray[np.int64]
    clock: NDArray[np.float64]
    patience: NDArray[np.float64]
    consecutive_skips: NDArray[np.int64]
    distraction_left: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        n = self.user.shape[0]
        if self.distraction_left.shape[0] != n:
            if self.distraction_left.size:
                raise ValueError(
                    f"distraction_left has {self.distraction_left.shape[0]} rows, "
                    f"must have {n} (one per session) or none"
                )
            self.distraction_left = np.zeros(n, dtype=np.int64)

    @classmethod
    def empty(cls) -> SessionBatch:
        i = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=np.float64)
        return cls(i, i.copy(), i.copy(), i.copy(), i.copy(), f, f.copy(), i.copy(), i.copy())

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def take(self, rows: NDArray[np.int64] | NDArray[np.bool_]) -> SessionBatch:
        """The sessions at ``rows`` (index or mask), as a new batch."""
        return SessionBatch(
            self.user[rows],
            self.session_id[rows],
            self.day[rows],
            self.index[rows],
            self.step[rows],
            self.clock[rows],
            self.patience[rows],
            self.consecutive_skips[rows],
            self.distraction_left[rows],
        )

    @staticmethod
    def concat(a: SessionBatch, b: SessionBatch) -> SessionBatch:
        """Rows of ``a`` then rows of ``b``."""
        return SessionBatch(
            **{f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)}
        )

    def keys(self) -> tuple[NDArray[np.int64], ...]:
        """The common-random-number keys of the current step: (user, day, index, step)."""
        return (self.user, self.day, self.index, self.step)


def quit_hazards(activity: NDArray[np.float64], cfg: SessionConfig) -> NDArray[np.float64]:
    """Per-user quit hazard ``sigmoid(logit(quit_hazard) - quit_activity * z)``.

    Casual listeners (low activity ``z``) leave after a few songs whatever plays, heavy
    ones listen on; with ``quit_activity = 0`` every user has ``quit_hazard``.
    """
    if not cfg.quit_activity:
        return np.full(activity.shape, cfg.quit_hazard, dtype=np.float64)
    logit = np.log(cfg.quit_hazard) - np.log1p(-cfg.quit_hazard)
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * (logit - cfg.quit_activity * activity)))
    return out


def advance(
    sessions: SessionBatch,
    listen_seconds: NDArray[np.float64],
    skip: NDArray[np.bool_],
    cfg: SessionConfig,
    draws: KeyedDraws,
    distraction_left: NDArray[np.int64] | None = None,
    quit_hazard: NDArray[np.float64] | None = None,
) -> NDArray[np.bool_]:
    """Apply one served step to ``sessions`` in place and return which sessions ended.

    Args:
        sessions: The sessions that were just served (their ``step`` is the served step).
        listen_seconds: ``(S,)`` listen time of the served song.
        skip: ``(S,)`` whether it was skipped (noisy skips included: the user stopped).
        cfg: Session parameters.
        draws: The step's keyed uniforms (``noise.draws(*sessions.keys())``); the quit draw
            is the low half of the ``listen_fraction`` hash (the high half is the fraction).
        distraction_left: ``(S,)`` the episode state after the served step
            (:attr:`~simulator.world.behavior.Response.distraction_left`); ``None`` leaves it.
        quit_hazard: ``(S,)`` each session's user's quit hazard
            (:func:`quit_hazards`); ``None``: ``cfg.quit_hazard`` for everyone.

    Returns:
        ``(S,)`` bool, True where the session is over after this step.
    """
    hazard = cfg.quit_hazard if quit_hazard is None else quit_hazard
    quit_now = draws.uniform_pair("listen_fraction")[1] < hazard
    cost = cfg.skip_patience_cost + cfg.consecutive_skip_cost * sessions.consecutive_skips
    sessions.patience = np.where(
        skip, sessions.patience - cost, sessions.patience + cfg.finish_patience_gain
    )
    sessions.consecutive_skips = np.where(skip, sessions.consecutive_skips + 1, 0)
    sessions.clock = sessions.clock + listen_seconds
    sessions.step = sessions.step + 1
    if distraction_left is not None:
        sessions.distraction_left = distraction_left
    ended: NDArray[np.bool_] = (
        (sessions.patience <= 0.0) | quit_now | (sessions.step >= cfg.max_steps)
    )
    return ended


__all__ = ["SessionBatch", "advance", "quit_hazards"]
