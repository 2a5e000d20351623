"""``check_vector_env``: does a vector environment keep Gymnasium's vector API?

Gymnasium's ``check_env`` checks a single ``gymnasium.Env``; its vector API has no
checker (1.3), so this one checks what training code relies on, in the manner of
``check_env``:

* spaces: ``observation_space`` and ``action_space`` are the single spaces batched
  ``num_envs`` times (``gymnasium.vector.utils.batch_space``); ``metadata`` declares an
  ``AutoresetMode``;
* ``reset``: returns ``(obs, info)`` with ``obs`` in the space and ``info`` a dict of
  ``(num_envs, ...)`` arrays whose ``_key`` masks are ``(num_envs,)`` bool;
* seeding: ``reset(seed=s)`` twice gives the same observations, info and ``np_random``
  state; another seed another ``np_random`` state;
* ``step``: observations in the space, rewards ``(num_envs,)`` floats, terminations and
  truncations ``(num_envs,)`` bools; the same seed and actions give the same step;
* autoreset (``NEXT_STEP``): a sub-environment that ended is reset on the next step, with
  reward 0 and neither terminated nor truncated.

The environment is left open (reset and stepped).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space


def _sample_actions(env: VectorEnv, rng: np.random.Generator) -> Any:
    """Actions drawn from the action space, among the valid ones where the env masks them."""
    masks = getattr(env, "action_masks", None)
    if masks is None:
        return env.action_space.sample()
    allowed = np.asarray(masks(), dtype=np.bool_)
    scores = np.where(allowed, rng.random(allowed.shape), -1.0)
    return np.argmax(scores, axis=1).astype(np.int64)


def _check_info(info: Any, n: int, where: str) -> None:
    assert isinstance(info, dict), f"{where}: info is {type(info).__name__}, must be a dict"
    for key, value in info.items():
        if isinstance(value, np.ndarray):
            assert value.shape[:1] == (n,), (
                f"{where}: info[{key!r}] has shape {value.shape}, must start with num_envs ({n})"
            )
        if key.startswith("_") and key[1:] in info:
            is_mask = isinstance(value, np.ndarray) and value.dtype == np.bool_
            assert is_mask, f"{where}: info[{key!r}] must be a bool mask"


def _check_step(env: VectorEnv, out: tuple[Any, ...], where: str) -> None:
    n = env.num_envs
    assert isinstance(out, tuple), f"{where}: step must return a tuple"
    assert len(out) == 5, (
        f"{where}: step must return (obs, rewards, terminations, truncations, info)"
    )
    obs, rewards, terminated, truncated, info = out
    assert obs in env.observation_space, f"{where}: observations are not in observation_space"
    for name, arr, kinds in (
        ("rewards", rewards, "fiu"),
        ("terminations", terminated, "b"),
        ("truncations", truncated, "b"),
    ):
        shaped = isinstance(arr, np.ndarray) and arr.shape == (n,)
        assert shaped, f"{where}: {name} must be an array of shape ({n},)"
        assert arr.dtype.kind in kinds, f"{where}: {name} has dtype {arr.dtype}"
    assert np.isfinite(rewards).all(), f"{where}: rewards must be finite"
    _check_info(info, n, where)


def check_vector_env(env: VectorEnv, seed: int = 123, n_steps: int = 50) -> None:
    """Check ``env`` against Gymnasium's vector API (module docstring); raise on a failure.

    Args:
        env: The vector environment (it is reset and stepped).
        seed: Seed of the resets and of the actions.
        n_steps: Steps of random actions over which autoreset is checked.

    Raises:
        AssertionError: naming the first check that failed.
    """
    assert isinstance(env, VectorEnv), f"{type(env).__name__} is not a gymnasium VectorEnv"
    n = env.num_envs
    assert isinstance(n, int), f"num_envs == {n!r}, must be an int"
    assert n >= 1, f"num_envs == {n!r}, must be >= 1"
    assert env.observation_space == batch_space(env.single_observation_space, n), (
        "observation_space must be batch_space(single_observation_space, num_envs)"
    )
    assert env.action_space == batch_space(env.single_action_space, n), (
        "action_space must be batch_space(single_action_space, num_envs)"
    )
    mode = env.metadata.get("autoreset_mode")
    assert isinstance(mode, AutoresetMode), "metadata['autoreset_mode'] must be an AutoresetMode"

    reset_out = env.reset(seed=seed)
    assert isinstance(reset_out, tuple), "reset must return a tuple (obs, info)"
    assert len(reset_out) == 2, "reset must return (obs, info)"
    obs_1, info_1 = reset_out
    assert obs_1 in env.observation_space, "reset: observations are not in observation_space"
    _check_info(info_1, n, "reset")
    rng_1 = deepcopy(env.np_random)
    obs_2, info_2 = env.reset(seed=seed)
    assert data_equivalence(obs_1, obs_2, exact=True), "reset(seed) is not deterministic"
    assert data_equivalence(info_1, info_2, exact=True), "reset(seed) info is not deterministic"
    assert env.np_random.bit_generator.state == rng_1.bit_generator.state, (
        "reset(seed) must seed np_random (super().reset(seed=seed))"
    )
    env.reset(seed=seed + 1)
    assert env.np_random.bit_generator.state != rng_1.bit_generator.state, (
        "reset with another seed must give np_random another state"
    )

    steps = []
    for _ in range(2):
        env.reset(seed=seed)
        actions = _sample_actions(env, np.random.default_rng(seed))
        out = env.step(actions)
        _check_step(env, out, "step")
        steps.append(out)
    assert data_equivalence(steps[0], steps[1], exact=True), (
        "step is not deterministic for the same seed and actions"
    )

    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    ended = np.zeros(n, dtype=np.bool_)
    for t in range(n_steps):
        out = env.step(_sample_actions(env, rng))
        _check_step(env, out, f"step {t + 1}")
        _, rewards, terminated, truncated, _ = out
        if mode == AutoresetMode.NEXT_STEP and ended.any():
            assert (rewards[ended] == 0).all(), "NEXT_STEP autoreset: reward must be 0"
            assert not (terminated[ended] | truncated[ended]).any(), (
                "NEXT_STEP autoreset: the reset step is neither terminated nor truncated"
            )
        ended = terminated | truncated


__all__ = ["check_vector_env"]
