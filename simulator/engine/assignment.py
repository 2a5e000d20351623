"""Assignment of users to arms by a salted hash.

A user's arm is a pure function of ``(salt, user_id)``: the same user lands in the same arm
whatever the batch, the day of arrival or the run, and a new salt re-randomises everyone,
as production bucketing does. Arms take consecutive slices of the unit interval in
proportion to their shares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from simulator.errors import ConfigError
from simulator.world.noise import tag_code, uniform


class HashAssignment:
    """``user_id -> arm index`` by ``U(salt, user_id)`` against cumulative shares.

    Args:
        salt: Any string; it seeds the hash.
        shares: One share per arm, each in (0, 1], summing to 1.

    Example:
        >>> a = HashAssignment("exp-1", [0.5, 0.5])
        >>> arms = a(np.arange(10_000))
        >>> bool(abs(arms.mean() - 0.5) < 0.02), bool((arms == a(np.arange(10_000))).all())
        (True, True)
    """

    def __init__(self, salt: str, shares: Sequence[float]) -> None:
        s = np.asarray(shares, dtype=np.float64)
        if s.ndim != 1 or s.size == 0 or (s <= 0).any() or abs(s.sum() - 1.0) > 1e-9:
            raise ConfigError(f"shares == {list(shares)}, must be positive and sum to 1")
        self.salt = salt
        self.shares = tuple(float(x) for x in s)
        self._edges = np.cumsum(s)[:-1]
        self._seed = tag_code(f"assignment:{salt}")

    def uniforms(self, user_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """The hash of each user mapped to (0, 1)."""
        return uniform(self._seed, "arm", np.asarray(user_ids, dtype=np.int64))

    def __call__(self, user_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Arm index of each user."""
        return np.searchsorted(self._edges, self.uniforms(user_ids), side="right").astype(np.int64)


class FixedArm:
    """Everyone on one arm (the pre-period, and each side of the twin)."""

    def __init__(self, arm: int) -> None:
        if arm < 0:
            raise ConfigError(f"arm == {arm}, must be >= 0")
        self.arm = arm

    def __call__(self, user_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """``arm`` for every user."""
        return np.full(np.asarray(user_ids).shape[0], self.arm, dtype=np.int64)


__all__ = ["FixedArm", "HashAssignment"]
