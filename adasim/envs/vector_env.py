"""``SessionVectorEnv``: many users' sessions stepped as one numpy batch (``gymnasium.vector``).

Sub-environment ``i`` is a :class:`~adasim.envs.SessionEnv` episode stream; all of them
advance together through the same world calls as the engine's batches
(:class:`~adasim.envs.dynamics.EpisodeRows`), with no Python loop over users. It equals,
number for number, ``gymnasium.vector.SyncVectorEnv`` over ``n_users`` ``SessionEnv``
instances of the same world, reset with the same seed and stepped with the same actions
(``reset(seed=s)`` gives sub-environment ``i`` the seed ``s + i``, as ``SyncVectorEnv``
does), only faster.

Autoreset is Gymnasium's ``NEXT_STEP`` mode (``metadata["autoreset_mode"]``): the step
after a sub-environment's ``terminated`` or ``truncated`` resets it to its stream's next
episode, ignoring its action, with reward 0, ``terminated = truncated = False`` and
``info`` holding only the reset keys (their ``_key`` masks tell which rows have which).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from adasim.envs.dynamics import EpisodeRows, Rows, episode_roots
from adasim.envs.env_config import (
    EnvConfig,
    InvalidAction,
    InvalidActionError,
    NoiseMode,
    PathLike,
    RewardName,
    check_int,
    check_seed,
    env_world,
    fail,
)
from adasim.envs.session_env import Observation, check_options, check_user, step_arrays
from adasim.envs.spaces import INFO_TYPES, STEP_INFO, action_space, observation_space
from simulator.config import Config
from simulator.world.world import World, WorldView

Array = NDArray[Any]


class SessionVectorEnv(VectorEnv[Observation, NDArray[np.int64], Array]):
    """``n_users`` user episodes side by side, one numpy batch per step.

    Args:
        n_users: Number of sub-environments (episodes run at once).
        config: As :class:`~adasim.envs.SessionEnv`; so are the other options.
        seed: The world's root seed.
        n_days: The horizon.
        reward: ``"listen_fraction"`` or ``"finish"``.
        history_length: Songs of recent history in the observation.
        noise: ``"episode"`` or ``"world"``.
        invalid_action: ``"skip"`` or ``"raise"``.
        max_episode_steps: ``truncated`` after this many steps of an episode.
        world: A world to share instead of building one.

    ``reset(options=...)`` takes ``"user_id"`` (an int, or one per sub-environment) and
    ``"reset_mask"`` (``(n_users,)`` bool: reset only those). ``info`` has one array per
    key (``(n_users,)``, as :class:`~adasim.envs.SessionEnv`'s values) and its ``_key``
    mask; the action masks are :meth:`action_masks` (``(n_users, n_items_total)``; not in
    ``info``, where they would cost a copy of that size per step), the released count is
    ``info["n_items"]`` and ``obs["context"][:, 3]``.

    Example:
        >>> import adasim
        >>> envs = adasim.SessionVectorEnv(n_users=4)  # adasim.envs.SessionVectorEnv
        >>> obs, info = envs.reset(seed=0)
        >>> obs["history_items"].shape, info["user_id"].shape
        ((4, 10), (4,))
        >>> obs, rewards, terminated, truncated, info = envs.step(np.zeros(4, dtype=np.int64))
        >>> rewards.shape, terminated.dtype
        ((4,), dtype('bool'))
    """

    metadata = {  # noqa: RUF012 (Gymnasium's own annotation)
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        n_users: int,
        config: Config | PathLike | None = None,
        *,
        seed: int | None = None,
        n_days: int | None = None,
        reward: RewardName = "listen_fraction",
        history_length: int = 10,
        noise: NoiseMode = "episode",
        invalid_action: InvalidAction = "skip",
        max_episode_steps: int | None = None,
        world: World | None = None,
    ) -> None:
        n = check_int("n_users", n_users, 1)
        options = EnvConfig(
            n_days=n_days,
            reward=reward,
            history_length=history_length,
            noise=noise,
            invalid_action=invalid_action,
            max_episode_steps=max_episode_steps,
        )
        self.env_config, self.world = env_world(options, config, seed, world)
        self.num_envs = n
        self._rows = EpisodeRows(self.world, self.env_config, n)
        self.single_observation_space = observation_space(self.world, self.env_config)
        self.single_action_space = action_space(self.world)
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)
        self._roots = np.zeros(n, dtype=np.int64)
        self._counters = np.zeros(n, dtype=np.int64)
        self._seeded = False
        self._started = False
        self._autoreset = np.zeros(n, dtype=np.bool_)

    @property
    def n_users(self) -> int:
        """Number of sub-environments (``num_envs``)."""
        return self.num_envs

    @property
    def observable(self) -> WorldView:
        """What an agent may know of the world: user and song features, release order."""
        return self.world.observable

    # ------------------------------------------------------------------ reset

    def reset(
        self,
        *,
        seed: int | Sequence[int] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Observation, dict[str, Any]]:
        """Start episodes in every sub-environment (or those of ``options["reset_mask"]``).

        ``seed``: an int ``s`` gives sub-environment ``i`` the stream ``s + i``; a sequence
        gives one seed each; ``None`` moves each stream on to its next episode.
        """
        n = self.num_envs
        roots = self._seed_roots(seed)
        opts = check_options(options, ("user_id", "reset_mask"))
        rows = self._reset_rows(opts.get("reset_mask"))
        users = self._users(opts.get("user_id"), rows)
        if not self._started and rows.shape[0] < n:
            raise fail(
                "options['reset_mask']",
                opts["reset_mask"],
                "must be all True at the first reset (every sub-environment needs an episode)",
            )
        super().reset(seed=seed if isinstance(seed, int) else None)
        if roots is not None:
            self._roots[rows] = roots[rows]
            self._counters[rows] = 0
            self._seeded = True
        elif not self._seeded:
            self._roots[:] = episode_roots(int(self.np_random.integers(0, 2**63)), n)
            self._counters[:] = 0
            self._seeded = True
        else:
            self._counters[rows] += 1
        self._rows.reset(rows, self._roots[rows], self._counters[rows], users)
        self._autoreset[rows] = False
        self._started = True
        mask = np.zeros(n, dtype=np.bool_)
        mask[rows] = True
        return self._rows.observation(), self._info(mask, None, None)

    def _seed_roots(self, seed: object) -> NDArray[np.int64] | None:
        n = self.num_envs
        if seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
            s = check_seed("seed", seed)
            return None if s is None else episode_roots(s, n)
        if not isinstance(seed, Sequence | np.ndarray) or len(seed) != n:
            raise fail("seed", seed, f"must be None, an int or a sequence of {n} ints")
        return np.array([check_seed(f"seed[{i}]", s) for i, s in enumerate(seed)], np.int64)

    def _reset_rows(self, mask: object) -> NDArray[np.int64]:
        n = self.num_envs
        if mask is None:
            return np.arange(n, dtype=np.int64)
        if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (n,)):
            raise fail("options['reset_mask']", mask, f"must be a bool array of shape ({n},)")
        if not mask.any():
            raise fail("options['reset_mask']", mask, "must have a True entry")
        return np.flatnonzero(mask).astype(np.int64)

    def _users(self, value: object, rows: NDArray[np.int64]) -> NDArray[np.int64] | None:
        if value is None:
            return None
        m = self._rows.n_eligible
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return np.full(rows.shape[0], check_user(value, m), dtype=np.int64)
        arr = np.asarray(value)
        if arr.shape != (self.num_envs,) or arr.dtype.kind not in "iu":
            raise fail(
                "options['user_id']", value, f"must be an int or an int array ({self.num_envs},)"
            )
        picked = arr[rows]
        bad = (picked < 0) | (picked >= m)
        if bad.any():
            check_user(int(picked[bad][0]), m, "options['user_id'][...]")
        return picked.astype(np.int64)

    # ------------------------------------------------------------------ step

    def step(
        self, actions: NDArray[np.int64]
    ) -> tuple[
        Observation, NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]
    ]:
        """Serve one song per sub-environment (those reset by autoreset ignore theirs)."""
        if not self._started:
            raise ResetNeeded("step() needs episodes: call reset() first")
        n = self.num_envs
        a = self._check_actions(actions)
        reset = self._autoreset
        stepping: Rows
        if reset.any():
            step_idx = np.flatnonzero(~reset)
            stepping = step_idx
            self._rows.check_released(stepping, a[step_idx])  # before anything changes
            rows = np.flatnonzero(reset)
            self._counters[rows] += 1
            self._rows.reset(rows, self._roots[rows], self._counters[rows])
        else:
            step_idx = np.arange(n, dtype=np.int64)
            stepping = slice(None)
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=np.bool_)
        truncated = np.zeros(n, dtype=np.bool_)
        step_mask = ~reset
        result = None
        if step_idx.shape[0]:
            result = self._rows.step(stepping, a[stepping])
            rewards[stepping] = result.reward
            terminated[stepping] = result.terminated
            truncated[stepping] = result.truncated
        self._autoreset = terminated | truncated
        info = self._info(np.ones(n, dtype=np.bool_), step_mask, result)
        return self._rows.observation(), rewards, terminated, truncated, info

    def _check_actions(self, actions: object) -> NDArray[np.int64]:
        n, m = self.num_envs, self._rows.n_actions
        a = np.asarray(actions)
        if a.shape != (n,) or a.dtype.kind not in "iu":
            raise InvalidActionError(
                f"actions has shape {a.shape} and dtype {a.dtype}, must be ({n},) integers "
                f"(one song id per sub-environment)"
            )
        bad = (a < 0) | (a >= m)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InvalidActionError(
                f"actions[{k}] == {int(a[k])}, must be in the action space [0, {m})"
            )
        return a.astype(np.int64, copy=False)

    def _info(
        self,
        state_mask: NDArray[np.bool_],
        step_mask: NDArray[np.bool_] | None,
        result: Any,
    ) -> dict[str, Any]:
        """Per-key arrays and ``_key`` masks, laid out as ``SyncVectorEnv`` merges them."""
        n = self.num_envs
        info: dict[str, Any] = {}
        for key, value in self._rows.state(slice(None)).items():
            info[key] = np.where(state_mask, value, 0).astype(value.dtype, copy=False)
            info[f"_{key}"] = state_mask.copy()
        if step_mask is not None:
            values = step_arrays(result) if result is not None else {}
            for key in STEP_INFO:
                arr = np.zeros(n, dtype=_DTYPES[key])
                if result is not None:
                    arr[step_mask] = values[key]
                info[key] = arr
                info[f"_{key}"] = step_mask.copy()
        return info

    def action_masks(self) -> NDArray[np.bool_]:
        """``(n_users, n_items_total)`` True for the songs released at each next step."""
        return self._rows.action_masks(slice(None))

    def __repr__(self) -> str:
        c = self.env_config
        return (
            f"SessionVectorEnv(n_users={self.num_envs}, n_days={c.n_days}, "
            f"reward={c.reward!r}, noise={c.noise!r}, n_actions={self._rows.n_actions})"
        )


_DTYPES: dict[str, type[np.generic]] = {
    k: {int: np.int64, float: np.float64, bool: np.bool_}[t] for k, t in INFO_TYPES.items()
}


def make_vector_env(num_envs: int, **kwargs: Any) -> SessionVectorEnv:
    """``gymnasium.make_vec("adasim/Session-v0", num_envs=n, vectorization_mode="vector_entry_point")``."""
    return SessionVectorEnv(num_envs, **kwargs)


__all__ = ["SessionVectorEnv", "make_vector_env"]
