"""Live sessions as a struct of arrays, and how one step changes them.

A session is a sequence of single-song steps. Its clock advances by the listen time of
each song; its patience starts at the user's level and falls with each skip, more after
consecutive skips:

.. math::

    P \\leftarrow P - (c_{skip} + c_{consec} k)\\ \\text{on a skip},\\qquad
    P \\leftarrow P + g\\ \\text{on a finish},

where ``k`` is the number of skips right before this one. The session ends when
``P <= 0``, when the user quits (hazard ``quit_hazard`` per step, a keyed uniform), or
after ``max_steps`` songs. All sessions of a time bucket advance together, one numpy batch
per step; no Python loop over users.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from simulator.config import SessionConfig
from simulator.noise import KeyedDraws


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
    """

    user: NDArray[np.int64]
    session_id: NDArray[np.int64]
    day: NDArray[np.int64]
    index: NDArray[np.int64]
    step: NDArray[np.int64]
    clock: NDArray[np.float64]
    patience: NDArray[np.float64]
    consecutive_skips: NDArray[np.int64]

    @classmethod
    def empty(cls) -> SessionBatch:
        i = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=np.float64)
        return cls(i, i.copy(), i.copy(), i.copy(), i.copy(), f, f.copy(), i.copy())

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


def advance(
    sessions: SessionBatch,
    listen_seconds: NDArray[np.float64],
    skip: NDArray[np.bool_],
    cfg: SessionConfig,
    draws: KeyedDraws,
) -> NDArray[np.bool_]:
    """Apply one served step to ``sessions`` in place and return which sessions ended.

    Args:
        sessions: The sessions that were just served (their ``step`` is the served step).
        listen_seconds: ``(S,)`` listen time of the served song.
        skip: ``(S,)`` whether it was skipped (noisy skips included: the user stopped).
        cfg: Session parameters.
        draws: The step's keyed uniforms (``noise.draws(*sessions.keys())``); the quit draw
            is the low half of the ``listen_fraction`` hash (the high half is the fraction).

    Returns:
        ``(S,)`` bool, True where the session is over after this step.
    """
    quit_now = draws.uniform_pair("listen_fraction")[1] < cfg.quit_hazard
    cost = cfg.skip_patience_cost + cfg.consecutive_skip_cost * sessions.consecutive_skips
    sessions.patience = np.where(
        skip, sessions.patience - cost, sessions.patience + cfg.finish_patience_gain
    )
    sessions.consecutive_skips = np.where(skip, sessions.consecutive_skips + 1, 0)
    sessions.clock = sessions.clock + listen_seconds
    sessions.step = sessions.step + 1
    ended: NDArray[np.bool_] = (
        (sessions.patience <= 0.0) | quit_now | (sessions.step >= cfg.max_steps)
    )
    return ended


__all__ = ["SessionBatch", "advance"]
