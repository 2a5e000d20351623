"""Gymnasium environments of the simulated world: a user's sessions, one song per step.

:class:`SessionEnv` (a ``gymnasium.Env``) follows one user over the horizon's days: each
step the agent picks the next song (action ``Discrete(n_items_total)``), the world answers
as it answers the A/B simulator's recommenders (finish or skip, like, comment, dislike,
listen time, noisy skips, patience, returning on later days by satisfaction), the reward
is the listen fraction or the finish, and ``info`` carries the ground truth.
:class:`SessionVectorEnv` (a ``gymnasium.vector.VectorEnv``) runs many users in one numpy
batch per step, equal number for number to ``SyncVectorEnv`` over ``SessionEnv``. Both are
registered as ``"adasim/Session-v0"`` (``gymnasium.make`` and ``gymnasium.make_vec``);
:func:`check_vector_env` is the vector counterpart of ``gymnasium.utils.env_checker.check_env``.
``docs/envs.md`` describes spaces, reward, ``info``, horizon, seeding and autoreset.

Needs the ``gym`` extra (``pip install adasim[gym]``); ``import adasim`` does not.

Example:
    >>> from adasim.envs import SessionVectorEnv
    >>> envs = SessionVectorEnv(n_users=100, reward="finish")
    >>> obs, info = envs.reset(seed=0)
    >>> actions = obs["context"][:, 3] - 1  # the newest released song, for everyone
    >>> obs, rewards, terminated, truncated, info = envs.step(actions)
    >>> bool(((rewards == 0) | (rewards == 1)).all())
    True
"""

from __future__ import annotations

try:
    import gymnasium
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "adasim.envs needs gymnasium: pip install adasim[gym] (or pip install gymnasium)"
    ) from err

from adasim.envs.checks import check_vector_env
from adasim.envs.dynamics import FEEDBACK
from adasim.envs.env_config import EnvConfig, InvalidActionError
from adasim.envs.session_env import SessionEnv
from adasim.envs.spaces import STATE_INFO, STEP_INFO
from adasim.envs.vector_env import SessionVectorEnv

ENV_ID = "adasim/Session-v0"
"""The id of both environments in Gymnasium's registry."""

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="adasim.envs.session_env:SessionEnv",
        vector_entry_point="adasim.envs.vector_env:make_vector_env",
    )

__all__ = [
    "ENV_ID",
    "FEEDBACK",
    "STATE_INFO",
    "STEP_INFO",
    "EnvConfig",
    "InvalidActionError",
    "SessionEnv",
    "SessionVectorEnv",
    "check_vector_env",
]
