"""Exploration candidates: a share of the candidate list drawn from outside retrieval.

Retrieval learns only from what was shown, so a song it scores low is never shown and
never corrected: the candidate lists close in on a popular head. Production systems keep
the loop open at the candidate stage: a few slots of every list come from an exploration
source, and the ranker and the serving policy then treat them like any other candidate.
Two sources:

* ``"uniform"``: songs drawn uniformly from the catalogue released so far;
* ``"fresh"``: songs drawn uniformly from those released in the last ``fresh_days`` days
  (the whole catalogue when none was), the cold items retrieval knows least.

The draws are a counter-based hash of (the agent's exploration seed, the request's
session id, its step), not of a random stream: the candidates of a request do not depend
on the batch it was served in, and off-policy evaluation can rebuild exactly the
candidates (and so the exact probabilities) the agent would have had for any logged
request. The logged ``pscore`` is the probability of the shown song given those
candidates (docs/methods/ope.md).

Slot rule: the last ``n_explore`` of the ``n`` retrieved slots are replaced by the draws,
in order; a draw that is already among the retrieved songs (anywhere in the list) or
repeats an earlier draw leaves the retrieved song of its slot in place, so a list never
holds a song twice.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The SplitMix64 finaliser (Steele, Lea & Flood 2014), element-wise, wrapping."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def hashed_draws(
    seed: int,
    session_ids: NDArray[np.int64],
    steps: NDArray[np.int64],
    count: int,
    low: NDArray[np.int64] | int,
    high: int,
) -> NDArray[np.int64]:
    """``(B, count)`` integers in ``[low, high)``, a pure function of the arguments.

    Example:
        >>> a = hashed_draws(1, np.array([5, 6]), np.array([0, 0]), 3, 0, 100)
        >>> b = hashed_draws(1, np.array([6]), np.array([0]), 3, 0, 100)
        >>> bool((a[1] == b[0]).all())
        True
    """
    with np.errstate(over="ignore"):
        key = splitmix64(
            splitmix64(np.uint64(seed % 2**64) ^ session_ids.astype(np.uint64))
            ^ steps.astype(np.uint64)
        )
        h = splitmix64(key[:, None] + np.arange(1, count + 1, dtype=np.uint64)[None, :])
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53  # uniform in [0, 1)
    lo = np.broadcast_to(np.asarray(low, dtype=np.int64), session_ids.shape)[:, None]
    return lo + np.floor(u * (high - lo)).astype(np.int64)


def with_exploration(retrieved: NDArray[np.int64], draws: NDArray[np.int64]) -> NDArray[np.int64]:
    """The candidate lists: ``retrieved`` with its last slots given to ``draws`` (slot rule).

    Args:
        retrieved: ``(B, n)`` retrieved songs, best first, no repeats within a row.
        draws: ``(B, e)`` exploration draws, ``e <= n``.
    """
    out = retrieved.copy()
    n, e = retrieved.shape[1], draws.shape[1]
    for j in range(e):
        d = draws[:, j]
        repeat = (retrieved == d[:, None]).any(axis=1) | (draws[:, :j] == d[:, None]).any(axis=1)
        slot = n - e + j
        out[:, slot] = np.where(repeat, retrieved[:, slot], d)
    return out


__all__ = ["hashed_draws", "splitmix64", "with_exploration"]
