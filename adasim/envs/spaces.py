"""The environments' observation and action spaces, and the keys of their ``info``.

One observation (:func:`observation_space`, a ``gymnasium.spaces.Dict``):

=====================  =========================================  ==========================
key                    value                                      space
=====================  =========================================  ==========================
``user``               the user's observable features: id, age    ``MultiDiscrete`` (5,),
                       band, gender, region, device (the columns  the fields' vocabularies
                       of ``world.observable.user_features``)
``context``            ``[day, session, step, n_items]``: the     ``MultiDiscrete`` (4,)
                       next step's day (``n_days`` once the
                       episode is over), session index that day,
                       song position in the session, and the
                       songs released so far (valid actions are
                       ``0 .. n_items - 1``)
``history_items``      the last ``history_length`` songs played   ``MultiDiscrete`` (H,),
                       in the episode, oldest first; -1: none     start -1
``history_feedback``   their finish, skip, like, comment,         ``MultiBinary`` (H, 5)
                       dislike flags
``history_listen``     their listen fractions                     ``Box`` [0, 1] (H,) float32
=====================  =========================================  ==========================

The action is a song id, ``Discrete(n_items_total)``: every song of the horizon, of which
the first ``n_items`` are released at a step (:attr:`EnvConfig.invalid_action
<adasim.envs.env_config.EnvConfig.invalid_action>` says what the others do).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from adasim.envs.dynamics import FEEDBACK
from adasim.envs.env_config import EnvConfig
from simulator.world.world import World

STATE_INFO: tuple[str, ...] = (
    "user_id",
    "n_items",
    "true_satisfaction",
    "true_patience",
    "true_distraction_left",
)
"""``info`` keys of ``reset`` (and of ``step``): the user and the state before the next step."""

STEP_INFO: tuple[str, ...] = (
    "item_id",
    "minute",
    "listen_seconds",
    "item_seconds",
    "listen_fraction",
    "finish",
    "skip",
    "like",
    "comment",
    "dislike",
    "invalid_action",
    "session_ended",
    "true_finish_prob",
    "true_noise_skip",
    "true_affinity",
)
"""``info`` keys of ``step`` only: what the step showed and what the user did, then truth."""

INFO_TYPES: dict[str, type] = {
    **dict.fromkeys(("user_id", "n_items", "true_distraction_left", "item_id", "minute"), int),
    **dict.fromkeys(
        (
            "true_satisfaction",
            "true_patience",
            "listen_seconds",
            "item_seconds",
            "listen_fraction",
            "true_finish_prob",
            "true_affinity",
        ),
        float,
    ),
    **dict.fromkeys(
        (*FEEDBACK, "invalid_action", "session_ended", "true_noise_skip"),
        bool,
    ),
}
"""The Python type of each ``info`` value of the single env (the vector env's arrays are
``int64``, ``float64`` and ``bool``, as ``gymnasium.vector.SyncVectorEnv`` batches them)."""


def observation_space(world: World, config: EnvConfig) -> spaces.Dict:
    """The observation space of one episode (module docstring)."""
    n_actions = world.n_items_total
    h = config.history_length
    return spaces.Dict(
        {
            "user": spaces.MultiDiscrete(
                np.array([f.vocab_size for f in world.observable.user_fields], dtype=np.int64)
            ),
            "context": spaces.MultiDiscrete(
                np.array(
                    [
                        config.days + 1,
                        world.config.users.max_sessions_per_day,
                        world.config.sessions.max_steps,
                        n_actions + 1,
                    ],
                    dtype=np.int64,
                )
            ),
            "history_items": spaces.MultiDiscrete(
                np.full(h, n_actions + 1, dtype=np.int64), start=np.full(h, -1, dtype=np.int64)
            ),
            "history_feedback": spaces.MultiBinary((h, len(FEEDBACK))),
            "history_listen": spaces.Box(0.0, 1.0, (h,), np.float32),
        }
    )


def action_space(world: World) -> spaces.Discrete:
    """``Discrete(n_items_total)``: a song id of the horizon."""
    return spaces.Discrete(world.n_items_total)


__all__ = ["INFO_TYPES", "STATE_INFO", "STEP_INFO", "action_space", "observation_space"]
