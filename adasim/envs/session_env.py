"""``SessionEnv``: one user's sessions in the simulated world, as a ``gymnasium.Env``.

Each step the agent picks the next song of the user's session; the world answers as it
answers the A/B simulator's recommenders (:mod:`adasim.envs.dynamics`). An episode is
one user over the horizon's days: their sessions of day 0, then of each later day they
open the app (more often the more songs they finished), until day ``n_days - 1`` ends.
"""

from __future__ import annotations

import operator
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from numpy.typing import NDArray

from adasim.envs.dynamics import EpisodeRows, StepResult, episode_roots
from adasim.envs.env_config import (
    EnvConfig,
    InvalidAction,
    InvalidActionError,
    NoiseMode,
    PathLike,
    RewardName,
    check_seed,
    env_world,
    fail,
)
from adasim.envs.spaces import INFO_TYPES, STEP_INFO, action_space, observation_space
from simulator.config import Config
from simulator.world.world import World, WorldView

Observation = dict[str, NDArray[Any]]


def check_action(action: object, n_actions: int) -> int:
    """An integer song id in ``[0, n_actions)``, else :class:`InvalidActionError`."""
    try:
        if isinstance(action, bool | np.bool_):
            raise TypeError
        a = operator.index(action)  # type: ignore[arg-type]
    except TypeError:
        if isinstance(action, np.ndarray) and action.ndim == 0 and action.dtype.kind in "iu":
            a = int(action)
        else:
            raise InvalidActionError(
                f"action == {action!r}, must be an integer song id in [0, {n_actions})"
            ) from None
    if not 0 <= a < n_actions:
        raise InvalidActionError(
            f"action == {a}, must be in the action space [0, {n_actions}) (Discrete({n_actions}))"
        )
    return a


def check_options(options: object, keys: tuple[str, ...]) -> dict[str, Any]:
    """``options`` as a dict with only ``keys`` (``None``: empty)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise fail("options", options, "must be a dict or None")
    unknown = sorted(set(options) - set(keys))
    if unknown:
        raise fail("options", options, "may only have the keys " + ", ".join(map(repr, keys)))
    return options


def check_user(value: object, n_eligible: int, name: str = "options['user_id']") -> int:
    """A user id that an episode can follow: registered by the end of day 0."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise fail(name, value, "must be an integer user id")
    if not 0 <= value < n_eligible:
        raise fail(
            name,
            value,
            f"must be in [0, {n_eligible}): the users registered by the end of day 0",
        )
    return int(value)


def scalar_info(values: dict[str, NDArray[Any]], row: int) -> dict[str, Any]:
    """Row ``row`` of per-row ``info`` arrays, as Python scalars of :data:`INFO_TYPES`."""
    return {k: INFO_TYPES[k](v[row]) for k, v in values.items()}


def step_arrays(result: StepResult) -> dict[str, NDArray[Any]]:
    """The ``info`` arrays of :data:`~adasim.envs.spaces.STEP_INFO` of a step."""
    return {k: getattr(result, k) for k in STEP_INFO}


class SessionEnv(gym.Env[Observation, np.int64]):
    """One user's sessions over ``n_days`` days of the world, a song per step.

    Args:
        config: A :class:`~simulator.config.Config`, a TOML path, or ``None``: the world
            and seed of ``configs/quick.toml`` (1,000 users, 1,000 songs, 3 days).
        seed: The world's root seed (``None``: ``config.seed``); ``reset(seed=...)``
            seeds the episodes.
        n_days: The horizon (``None``: ``config.simulate.days``, so the world is that of
            ``adasim simulate`` with the config).
        reward: ``"listen_fraction"`` or ``"finish"``.
        history_length: Songs of recent history in the observation.
        noise: ``"episode"`` (fresh random numbers per episode) or ``"world"`` (the
            simulator's own; see :class:`~adasim.envs.env_config.EnvConfig`).
        invalid_action: A song not yet released: ``"skip"`` (skipped unheard, reward 0)
            or ``"raise"``.
        max_episode_steps: ``truncated`` after this many steps (``None``: never).
        world: A :class:`~simulator.world.World` to share between environments instead
            of building one (``config`` and ``seed`` stay ``None``).

    ``reset(seed=..., options={"user_id": u})`` follows user ``u`` (one registered by
    the end of day 0) instead of drawing one. ``info`` holds the step's feedback and the
    ground truth (``true_*``): the finish probability of the shown song, whether a skip
    was noise, the affinity, the user's satisfaction, patience and noisy-skip state;
    ``info["action_mask"]`` (int8, ``Discrete.sample(mask=...)``) marks released songs.

    Example:
        >>> import adasim
        >>> env = adasim.SessionEnv()  # adasim.envs.SessionEnv
        >>> obs, info = env.reset(seed=0)
        >>> int(obs["context"][3]) == info["n_items"]  # songs released so far
        True
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> 0.0 <= reward <= 1.0, info["item_id"]
        (True, 0)
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (Gymnasium's own annotation)

    def __init__(
        self,
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
        options = EnvConfig(
            n_days=n_days,
            reward=reward,
            history_length=history_length,
            noise=noise,
            invalid_action=invalid_action,
            max_episode_steps=max_episode_steps,
        )
        self.env_config, self.world = env_world(options, config, seed, world)
        self._rows = EpisodeRows(self.world, self.env_config, 1)
        self.observation_space = observation_space(self.world, self.env_config)
        self.action_space = action_space(self.world)
        self._root: int | None = None
        self._counter = 0
        self._needs_reset = True
        self._first_row = np.zeros(1, dtype=np.int64)

    @property
    def observable(self) -> WorldView:
        """What an agent may know of the world: user and song features, release order."""
        return self.world.observable

    @property
    def user_weights(self) -> NDArray[np.float64]:
        """Each user's (unnormalised) chance of being the one an episode follows."""
        return self._rows.user_weights

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Start an episode: a new user (or ``options["user_id"]``) at day 0's first session.

        ``seed`` restarts the episode stream: the episodes after ``reset(seed=s)`` are
        the same on every run; ``reset()`` moves on to the stream's next episode.
        """
        seed = check_seed("seed", seed)
        opts = check_options(options, ("user_id",))
        users = None
        if "user_id" in opts:
            users = np.array([check_user(opts["user_id"], self._rows.n_eligible)], np.int64)
        super().reset(seed=seed)
        if seed is not None:
            self._root, self._counter = seed, 0
        elif self._root is None:
            self._root, self._counter = int(self.np_random.integers(0, 2**63)), 0
        else:
            self._counter += 1
        self._rows.reset(
            self._first_row,
            episode_roots(self._root, 1),
            np.array([self._counter], dtype=np.int64),
            users,
        )
        self._needs_reset = False
        return self._observation(), self._state_info()

    def step(
        self, action: np.int64 | int
    ) -> tuple[Observation, SupportsFloat, bool, bool, dict[str, Any]]:
        """Play song ``action`` to the user; the world answers (see the class docstring)."""
        if self._needs_reset:
            raise ResetNeeded(
                "step() needs an episode: call reset() first (and after terminated or truncated)"
            )
        a = check_action(action, self._rows.n_actions)
        result = self._rows.step(slice(None), np.array([a], dtype=np.int64))
        terminated = bool(result.terminated[0])
        truncated = bool(result.truncated[0])
        self._needs_reset = terminated or truncated
        info = scalar_info(step_arrays(result), 0)
        info.update(self._state_info())
        return self._observation(), float(result.reward[0]), terminated, truncated, info

    def action_masks(self) -> NDArray[np.bool_]:
        """``(n_items_total,)`` True for the songs released at the next step."""
        return self._rows.action_masks(slice(None))[0]

    def _observation(self) -> Observation:
        return {k: v[0] for k, v in self._rows.observation().items()}

    def _state_info(self) -> dict[str, Any]:
        info = scalar_info(self._rows.state(slice(None)), 0)
        info["action_mask"] = self.action_masks().astype(np.int8)
        return info

    def __repr__(self) -> str:
        c = self.env_config
        return (
            f"SessionEnv(n_days={c.n_days}, reward={c.reward!r}, noise={c.noise!r}, "
            f"n_actions={self._rows.n_actions}, users={self._rows.n_eligible})"
        )


__all__ = ["SessionEnv", "check_action", "check_options", "check_user"]
