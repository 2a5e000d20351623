"""Benchmark: user-steps per second of the vector environment vs single environments in a loop.

Both sides run the same world (the default one, ``configs/quick.toml``'s), the same
episodes and the same actions, in one invocation of this script:

* **vector**: one :class:`~adasim.envs.SessionVectorEnv` of ``USERS`` users (10,000),
  ``reset(seed=0)``, then ``STEPS`` steps; every step is one numpy batch.
* **single**: ``SINGLE_USERS`` :class:`~adasim.envs.SessionEnv` (10,000, sharing the
  world), env ``i`` reset with seed ``i`` (row ``i`` of the vector env), then
  ``SINGLE_ROUNDS`` rounds of a Python loop that steps every env once, resetting an env
  the round after its episode ended, as Gymnasium's next-step autoreset does (which is
  what ``gymnasium.vector.SyncVectorEnv`` would do, minus its batching overhead).

The policy is uniform over each user's released songs, drawn from one stream per round,
so that user ``i`` gets the same song on both sides; the script checks that the first
``SINGLE_ROUNDS`` steps give the same rewards (the same work). The comparison is per
user-step: user-steps per second of wall time, policy included.

Run: ``.venv/bin/python benchmarks/bench_envs.py`` (add ``--quick`` for a smoke run).
Writes ``benchmarks/results/bench_envs.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adasim.envs import SessionEnv, SessionVectorEnv  # noqa: E402
from simulator.world.numpy_kernels import numpy_dispatch_pinned  # noqa: E402


def _actions(rng: np.random.Generator, n_items: np.ndarray) -> np.ndarray:
    return np.floor(rng.random(n_items.shape[0]) * n_items).astype(np.int64)


def run_vector(users: int, steps: int, keep: int, keep_rounds: int) -> dict[str, Any]:
    """Time ``steps`` steps of the vector env; keep the first rows' first rewards."""
    envs = SessionVectorEnv(n_users=users)
    obs, _ = envs.reset(seed=0)
    rng = np.random.default_rng(1)
    kept = np.zeros((keep_rounds, keep))
    t = time.perf_counter()
    for k in range(steps):
        obs, rewards, _, _, _ = envs.step(_actions(rng, obs["context"][:, 3]))
        if k < keep_rounds:
            kept[k] = rewards[:keep]
    seconds = time.perf_counter() - t
    return {
        "users": users,
        "steps": steps,
        "seconds": seconds,
        "user_steps": users * steps,
        "user_steps_per_s": users * steps / seconds,
        "ms_per_step": 1e3 * seconds / steps,
        "rewards": kept,
        "world": envs.world,
    }


def run_single(world: Any, users: int, rounds: int, vector_users: int) -> dict[str, Any]:
    """Time ``rounds`` rounds of a Python loop stepping ``users`` single envs once each."""
    envs = [SessionEnv(world=world) for _ in range(users)]
    n_items = np.zeros(users, dtype=np.int64)
    for i, env in enumerate(envs):
        obs, _ = env.reset(seed=i)
        n_items[i] = obs["context"][3]
    ended = np.zeros(users, dtype=np.bool_)
    rng = np.random.default_rng(1)
    rewards = np.zeros((rounds, users))
    t = time.perf_counter()
    for k in range(rounds):
        # The vector side draws one uniform per user per step: the same stream here.
        u = rng.random(vector_users)[:users]
        for i, env in enumerate(envs):
            if ended[i]:
                obs, _ = env.reset()
                ended[i] = False
            else:
                obs, reward, terminated, truncated, _ = env.step(int(u[i] * n_items[i]))
                rewards[k, i] = reward
                ended[i] = terminated or truncated
            n_items[i] = obs["context"][3]
    seconds = time.perf_counter() - t
    return {
        "users": users,
        "rounds": rounds,
        "seconds": seconds,
        "user_steps": users * rounds,
        "user_steps_per_s": users * rounds / seconds,
        "us_per_step": 1e6 * seconds / (users * rounds),
        "rewards": rewards,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--single-users", type=int, default=10_000)
    parser.add_argument("--single-rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.users, args.steps, args.single_users, args.single_rounds = 1_000, 20, 200, 2
    if args.single_users > args.users or args.single_rounds > args.steps:
        parser.error("--single-users and --single-rounds must not exceed --users and --steps")
    vector = run_vector(args.users, args.steps, args.single_users, args.single_rounds)
    single = run_single(vector.pop("world"), args.single_users, args.single_rounds, args.users)
    same = bool(np.array_equal(vector.pop("rewards"), single.pop("rewards")))
    ratio = vector["user_steps_per_s"] / single["user_steps_per_s"]
    result: dict[str, Any] = {
        "vector": vector,
        "single": single,
        "same_rewards": same,
        "speedup_per_user_step": ratio,
        "target_speedup": 20.0,
        "numpy_pinned": numpy_dispatch_pinned(),
    }
    print(f"{'':<8}{'users':>8}{'steps':>7}{'user-steps':>12}{'seconds':>9}{'user-steps/s':>14}")
    for name, row, steps in (
        ("vector", vector, vector["steps"]),
        ("single", single, single["rounds"]),
    ):
        print(
            f"{name:<8}{row['users']:>8,}{steps:>7}{row['user_steps']:>12,}"
            f"{row['seconds']:>9.2f}{row['user_steps_per_s']:>14,.0f}"
        )
    print(
        f"vector: {vector['ms_per_step']:.1f} ms per step of {vector['users']:,} users; "
        f"single: {single['us_per_step']:.0f} us per step"
    )
    print(
        f"speed-up per user-step: {ratio:.0f}x (target >= 20x); "
        f"same rewards on the first {args.single_rounds} steps: {same}"
    )
    out = ROOT / "benchmarks" / "results" / "bench_envs.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
