"""The environments' options, a frozen record checked on construction, and their world.

Both environments take the same keyword options (:class:`EnvConfig`) and run in a
:class:`~simulator.world.World` drawn the way ``adasim simulate`` and ``adasim run`` draw
theirs: ``World.build(config.world, n_days, SeedSequence(seed).spawn(1)[0])``. With
``n_days`` equal to a run's days, the environment's users, songs and tastes are that run's.

Every option is checked before anything is read or built; a bad one raises a one-line
:class:`~simulator.errors.ConfigError` that names the parameter, its value and the rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from simulator.config import (
    Config,
    ItemConfig,
    SessionConfig,
    SimulateConfig,
    UserConfig,
    WorldConfig,
    load_config,
)
from simulator.errors import AdasimError, ConfigError
from simulator.world.world import World

RewardName = Literal["listen_fraction", "finish"]
NoiseMode = Literal["episode", "world"]
InvalidAction = Literal["skip", "raise"]

REWARDS: tuple[RewardName, ...] = ("listen_fraction", "finish")
"""``listen_fraction``: listen seconds / song length in [0, 1]; ``finish``: 1.0 or 0.0."""
NOISE_MODES: tuple[NoiseMode, ...] = ("episode", "world")
"""``episode``: fresh random numbers per episode; ``world``: the simulator's own."""
INVALID_ACTIONS: tuple[InvalidAction, ...] = ("skip", "raise")
"""What a song not yet released does: the user skips it unheard, or ``step`` raises."""

DEFAULT_WORLD = WorldConfig(
    n_users=1000,
    n_items=1000,
    new_users_per_day=20.0,
    new_items_per_day=10.0,
    dim=8,
    history_days=4,
    users=UserConfig(max_sessions_per_day=10),
    items=ItemConfig(n_artists=200),
    sessions=SessionConfig(max_steps=50),
)
"""The world of ``configs/quick.toml`` (a test keeps the two equal): 1,000 users and songs."""
DEFAULT_SEED = 7
"""The seed of ``configs/quick.toml``."""
DEFAULT_DAYS = 3
"""``simulate.days`` of ``configs/quick.toml``: the default horizon."""

PathLike = str | os.PathLike[str]


class InvalidActionError(AdasimError, ValueError):
    """An action outside the action space, or (``invalid_action="raise"``) not yet released."""


def fail(name: str, value: object, rule: str) -> ConfigError:
    """The one-line error ``name == value, rule`` (raise it)."""
    shown = repr(os.fspath(value)) if isinstance(value, os.PathLike) else repr(value)
    return ConfigError(f"{name} == {shown}, {rule}")


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]`` (bools are not ints here)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise fail(name, value, "must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"<= {maximum}" if maximum is not None and value > maximum else f">= {minimum}"
        raise fail(name, value, f"must be {bound}")
    return int(value)


def check_seed(name: str, value: object) -> int | None:
    """``None`` or an int in ``[0, 2**63)``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise fail(name, value, "must be None or an integer >= 0")
    if value >= 2**63:
        raise fail(name, value, "must be < 2**63")
    return int(value)


def _one_of(name: str, value: object, options: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in options:
        raise fail(name, value, "must be one of " + ", ".join(repr(o) for o in options))


@dataclass(frozen=True)
class EnvConfig:
    """Options of :class:`~adasim.envs.SessionEnv` and :class:`~adasim.envs.SessionVectorEnv`.

    Attributes:
        n_days: The horizon: an episode covers days ``0 .. n_days - 1`` of the world;
            ``None`` until resolved (the config's ``simulate.days``, or the world's days).
        reward: ``"listen_fraction"`` (listen seconds / song length) or ``"finish"``.
        history_length: Songs of the user's recent history in the observation (>= 1).
        noise: ``"episode"``: each episode draws its own common random numbers (the
            world's draws keyed by an episode key too), so a user met again is a new
            replicate; ``"world"``: the simulator's own numbers, keyed ``(user, day,
            session, step)``, so an episode of user ``u`` is what the engine gives ``u``
            for the same songs (and repeats whenever ``u`` is drawn again).
        invalid_action: A song not yet released: ``"skip"`` (the user skips it unheard:
            reward 0, a skip's patience cost, ``info["invalid_action"]``) or ``"raise"``
            (:class:`InvalidActionError`). An action outside the action space always raises.
        max_episode_steps: ``truncated`` after this many steps of an episode (``None``: never).
    """

    n_days: int | None = None
    reward: RewardName = "listen_fraction"
    history_length: int = 10
    noise: NoiseMode = "episode"
    invalid_action: InvalidAction = "skip"
    max_episode_steps: int | None = None

    def __post_init__(self) -> None:
        if self.n_days is not None:
            check_int("n_days", self.n_days, 1)
        _one_of("reward", self.reward, REWARDS)
        check_int("history_length", self.history_length, 1)
        _one_of("noise", self.noise, NOISE_MODES)
        _one_of("invalid_action", self.invalid_action, INVALID_ACTIONS)
        if self.max_episode_steps is not None:
            check_int("max_episode_steps", self.max_episode_steps, 1)

    @property
    def days(self) -> int:
        """``n_days``, resolved (raises if it is not yet)."""
        if self.n_days is None:
            raise ConfigError("n_days is None, must be resolved before the world is built")
        return self.n_days


def default_config() -> Config:
    """The default: the world, seed and horizon of ``configs/quick.toml``."""
    return Config(
        name="env",
        seed=DEFAULT_SEED,
        world=DEFAULT_WORLD,
        simulate=SimulateConfig(days=DEFAULT_DAYS),
    )


def env_world(
    options: EnvConfig,
    config: Config | PathLike | None,
    seed: int | None,
    world: World | None,
) -> tuple[EnvConfig, World]:
    """Resolve the horizon and build (or check) the world; ``options`` is already checked.

    Args:
        options: The checked options (``n_days`` may be ``None``).
        config: A config, a TOML path or ``None`` (:func:`default_config`).
        seed: The world's root seed; ``None``: ``config.seed``.
        world: A world to share instead (``config`` and ``seed`` must then be ``None``).

    Returns:
        The options with ``n_days`` resolved, and the world.
    """
    seed = check_seed("seed", seed)
    if world is not None:
        if not isinstance(world, World):
            raise fail("world", world, "must be a simulator.world.World or None")
        if config is not None or seed is not None:
            raise fail(
                "world",
                world,
                "must come alone: pass a world, or a config and seed to build one, not both",
            )
        n_days = world.n_days if options.n_days is None else options.n_days
        if n_days > world.n_days:
            raise fail(
                "n_days",
                n_days,
                f"must be <= world.n_days ({world.n_days}): the world's arrivals are drawn "
                "for that many days",
            )
        if n_days < 1:
            raise fail("world.n_days", world.n_days, "must be >= 1 (a world with days to run)")
        return replace(options, n_days=n_days), world
    if config is None:
        config = default_config()
    elif isinstance(config, str | os.PathLike):
        if not os.fspath(config):
            raise fail("config", config, "must be a Config, a TOML path or None")
        config = load_config(os.fspath(config))
    elif not isinstance(config, Config):
        raise fail("config", config, "must be a Config, a TOML path (str, Path) or None")
    n_days = config.simulate.days if options.n_days is None else options.n_days
    root = config.seed if seed is None else seed
    # The world child of simulate_world and build_world (spawn(k)[0] is the same for any k).
    world_seq = np.random.SeedSequence(root).spawn(1)[0]
    return replace(options, n_days=n_days), World.build(config.world, n_days, world_seq)


__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_SEED",
    "DEFAULT_WORLD",
    "INVALID_ACTIONS",
    "NOISE_MODES",
    "REWARDS",
    "EnvConfig",
    "InvalidAction",
    "InvalidActionError",
    "NoiseMode",
    "RewardName",
    "default_config",
    "env_world",
]
