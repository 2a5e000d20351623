"""Benchmark: impressions per second of the vectorised world vs the common simulator style.

Both sides run the same world (same config, same population, same behaviour formulas) with
the random policy, in one invocation of this script, each in its own child process so
that each side's peak memory (``ru_maxrss``) is its own:

* **adasim**: the engine of this project (simpy for coarse events only; every session step
  of a time bucket is one numpy batch), ``USERS`` users for ``DAYS`` days, event log on.
* **reference**: the common style (one simpy process per user, one per session, a Python
  loop per session step with one ``env.timeout`` per song) built from this project's own
  components called one request at a time: ``RandomPolicy.recommend`` on a one-row
  ``RequestBatch``, ``World.respond`` with the same common-random-number keys,
  ``sessions.advance`` on a one-row batch. Same behaviour and same random numbers.
* **reference_scalar**: the same process structure hand-written in scalar Python (math on
  floats, draws from ``Generator.random()``, events in lists): the leanest form of the
  common style, the hardest one to beat.

Running 100,000 users the common way takes far too long, so both references simulate the
first ``REF_USERS`` users of the same world (same tables) for ``REF_DAYS`` day(s); the
comparison is per impression (impressions per second of wall time).

Run: ``.venv/bin/python benchmarks/bench_world.py`` (add ``--quick`` for a smoke run).
Writes ``benchmarks/results/bench_world.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.config import EngineConfig, load_config  # noqa: E402
from simulator.types import RequestBatch  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _config(users: int) -> Any:
    return load_config(
        ROOT / "configs" / "world.toml",
        [f"world.n_users={users}", f"world.new_users_per_day={users // 50}"],
    )


def run_adasim(users: int, days: int, out: dict[str, Any]) -> None:
    from simulator.engine.engine import Engine
    from simulator.engine.eventlog import EventLog
    from simulator.policies import RandomPolicy
    from simulator.world.world import World

    cfg = _config(users)
    world = World.build(cfg.world, days, cfg.seed)
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(tmp, ["random"])
        engine = Engine(
            world, {"random": RandomPolicy()}, config=EngineConfig(progress=False), log=log, rng=1
        )
        t = time.perf_counter()
        stats = engine.run(days)
        engine.close(tmp)
        seconds = time.perf_counter() - t
    out.update(impressions=stats.impressions, seconds=seconds, peak_rss_mb=_peak_rss_mb())


def run_reference(users: int, ref_users: int, days: int, out: dict[str, Any]) -> None:
    """One simpy process per user; a Python loop per step; same formulas as the world."""
    import math

    import simpy

    from simulator.world.world import World

    cfg = _config(users)
    world = World.build(cfg.world, days, cfg.seed)
    w, u, b, s, r = (
        cfg.world,
        cfg.world.users,
        cfg.world.behavior,
        cfg.world.sessions,
        cfg.world.retention,
    )
    rng = np.random.default_rng(1)
    scale = b.taste_scale / math.sqrt(w.dim)
    taste, latent, appeal = world.users.taste, world.items.latent, world.items.appeal
    seconds_of = world.items.seconds
    log: dict[str, list[Any]] = {
        k: []
        for k in (
            "minute",
            "user",
            "item",
            "listen",
            "finish",
            "noise",
            "like",
            "comment",
            "dislike",
        )
    }
    sat = [r.initial_satisfaction] * ref_users
    env = simpy.Environment()

    def sig(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-x))

    def session(user: int, start: float) -> Any:
        yield env.timeout(max(0.0, start - env.now))
        patience = float(world.users.patience[user])
        consecutive = 0
        steps = finishes = 0
        while True:
            n_items = world.n_items_at(int(env.now))
            item = int(rng.integers(0, n_items))
            a = scale * float(np.dot(taste[user], latent[item])) + float(appeal[item])
            p = sig(b.finish_slope * a + b.finish_bias)
            noise = rng.random() < b.noise_skip_rate
            finish = (not noise) and rng.random() < p
            frac = (
                1.0
                if finish
                else (b.noise_listen_fraction if noise else b.max_skip_fraction * sig(a))
                * rng.random()
            )
            listen = float(seconds_of[item]) * frac
            like = comment = dislike = False
            if finish:
                like = rng.random() < sig(b.like_slope * a + b.like_bias)
                comment = rng.random() < sig(b.comment_slope * a + b.comment_bias)
            elif not noise:
                dislike = rng.random() < sig(-b.dislike_slope * a + b.dislike_bias)
            for key, value in zip(
                log,
                (int(env.now), user, item, listen, finish, noise, like, comment, dislike),
                strict=True,
            ):
                log[key].append(value)
            steps += 1
            finishes += finish
            if finish:
                consecutive = 0
            else:
                patience -= s.skip_patience_cost + s.consecutive_skip_cost * consecutive
                consecutive += 1
            yield env.timeout(listen / 60.0)
            if patience <= 0 or rng.random() < s.quit_hazard or steps >= s.max_steps:
                break
        sat[user] = (1 - r.satisfaction_smoothing) * sat[
            user
        ] + r.satisfaction_smoothing * finishes / steps

    def user_process(user: int) -> Any:
        reg = int(world.users.registration_minute[user])
        for day in range(days):
            day_start = day * 1440
            if reg >= day_start + 1440:
                yield env.timeout(day_start + 1440 - env.now)
                continue
            z = float(world.users.activity[user])
            p = sig(
                u.return_logit_mean
                + u.return_logit_activity * z
                + r.satisfaction_beta * (sat[user] - r.initial_satisfaction)
            )
            if reg < day_start and rng.random() >= p:
                yield env.timeout(day_start + 1440 - env.now)
                continue
            m = u.extra_sessions_mean * math.exp(u.activity_sigma * z)
            n = 1 + min(int(rng.geometric(1 / (1 + m))) - 1, u.max_sessions_per_day - 1)
            start0 = max(reg, day_start)
            for j in range(n):
                start = start0 + (j + rng.random()) * (day_start + 1440 - start0) / n
                env.process(session(user, start))
            yield env.timeout(day_start + 1440 - env.now)

    for user in range(ref_users):
        env.process(user_process(user))
    t = time.perf_counter()
    env.run(until=days * 1440)
    seconds = time.perf_counter() - t
    out.update(impressions=len(log["user"]), seconds=seconds, peak_rss_mb=_peak_rss_mb())


def run_reference_components(users: int, ref_users: int, days: int, out: dict[str, Any]) -> None:
    """The common style with this project's own components, one request at a time.

    One simpy process per user decides each day whether the user opens the app (the same
    keyed uniform and formula as :class:`~simulator.world.retention.Retention`) and starts one
    simpy process per session; each session loops over steps in Python, calling
    ``RandomPolicy.recommend`` on a one-row ``RequestBatch``, ``World.respond`` with the
    same common-random-number keys and ``sessions.advance`` on a one-row batch, with one
    ``env.timeout`` per song. Same behaviour, same random numbers as the engine.
    """
    import simpy

    from simulator.policies import RandomPolicy
    from simulator.world.retention import Retention
    from simulator.world.sessions import SessionBatch, advance
    from simulator.world.world import World

    cfg = _config(users)
    world = World.build(cfg.world, days, cfg.seed)
    retention = Retention(world.users, cfg.world, world.noise)
    policy = RandomPolicy()
    rng = np.random.default_rng(1)
    env = simpy.Environment()
    rows: list[tuple[Any, ...]] = []
    ucfg = cfg.world.users
    counter = [0]

    def session(user: int, day: int, index: int, start: int) -> Any:
        yield env.timeout(start - env.now)
        one = np.array([user], dtype=np.int64)
        state = SessionBatch(
            user=one,
            session_id=np.array([counter[0]]),
            day=np.array([day]),
            index=np.array([index]),
            step=np.zeros(1, np.int64),
            clock=np.array([start * 60.0]),
            patience=world.users.patience[one].astype(np.float64),
            consecutive_skips=np.zeros(1, np.int64),
        )
        counter[0] += 1
        while True:
            minute = int(env.now)
            req = RequestBatch(
                minute=minute, day=minute // 1440, arm="random", user_ids=one,
                session_ids=state.session_id, steps=state.step,
                n_items=world.n_items_at(minute),
            )  # fmt: skip
            rec = policy.recommend(req, rng)
            draws = world.noise.draws(*state.keys())
            resp = world.respond(one, rec.item_ids, draws)
            rows.append((minute, user, int(rec.item_ids[0]), float(resp.listen_seconds[0]),
                         bool(resp.finish[0]), bool(resp.noise_skip[0])))  # fmt: skip
            retention.record(one, resp.finish)
            ended = advance(state, resp.listen_seconds, resp.skip, cfg.world.sessions, draws)
            yield env.timeout(float(resp.listen_seconds[0]) / 60.0)
            if ended[0]:
                break

    def user_process(user: int) -> Any:
        one = np.array([user], dtype=np.int64)
        reg = int(world.users.registration_minute[user])
        for day in range(days):
            day_start = day * 1440
            if reg < day_start + 1440:
                returns = world.noise.uniform("return", one, day) < retention.return_probability(
                    one
                )
                if reg >= day_start or bool(returns[0]):
                    z = float(world.users.activity[user])
                    m = ucfg.extra_sessions_mean * np.exp(ucfg.activity_sigma * z)
                    u = float(world.noise.uniform("n_sessions", one, day)[0])
                    extra = int(np.floor(np.log(u) / np.log1p(-1 / (1 + m)))) if m > 0 else 0
                    n = 1 + min(extra, ucfg.max_sessions_per_day - 1)
                    start0 = max(reg, day_start)
                    window = day_start + 1440 - start0
                    for j in range(n):
                        uj = float(world.noise.uniform("session_start", one, day, j)[0])
                        start = start0 + int(np.floor((j + uj) * window / n))
                        env.process(session(user, day, j, start))
            yield env.timeout(day_start + 1440 - env.now)

    for user in range(ref_users):
        env.process(user_process(user))
    t = time.perf_counter()
    env.run(until=days * 1440)
    seconds = time.perf_counter() - t
    out.update(impressions=len(rows), seconds=seconds, peak_rss_mb=_peak_rss_mb())


def _child(target: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    with mp.Manager() as manager:
        out = manager.dict()
        proc = mp.get_context("spawn").Process(target=target, args=(*args, out))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"{target.__name__} failed with exit code {proc.exitcode}")
        return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--ref-users", type=int, default=5_000)
    parser.add_argument("--ref-days", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.users, args.days, args.ref_users, args.ref_days = 5_000, 1, 500, 1
    fast = _child(run_adasim, (args.users, args.days))
    refs = {
        "reference": _child(run_reference_components, (args.users, args.ref_users, args.ref_days)),
        "reference_scalar": _child(run_reference, (args.users, args.ref_users, args.ref_days)),
    }
    fast_rate = fast["impressions"] / fast["seconds"]
    result: dict[str, Any] = {
        "adasim": {"users": args.users, "days": args.days, **fast, "impressions_per_s": fast_rate},
        "target_speedup": 30.0,
    }
    for name, ref in refs.items():
        rate = ref["impressions"] / ref["seconds"]
        result[name] = {
            "users": args.ref_users,
            "days": args.ref_days,
            **ref,
            "impressions_per_s": rate,
        }
        result[f"speedup_vs_{name}"] = fast_rate / rate
    print(
        f"{'':<18}{'users':>10}{'days':>6}{'impressions':>14}{'seconds':>10}{'impr/s':>12}{'peak RSS MB':>13}"
    )
    for name in ("adasim", "reference", "reference_scalar"):
        row = result[name]
        print(
            f"{name:<18}{row['users']:>10,}{row['days']:>6}{row['impressions']:>14,}"
            f"{row['seconds']:>10.1f}{row['impressions_per_s']:>12,.0f}{row['peak_rss_mb']:>13.0f}"
        )
    print(
        f"speed-up per impression: {result['speedup_vs_reference']:.1f}x vs the reference with "
        f"the project's components, {result['speedup_vs_reference_scalar']:.1f}x vs the "
        "hand-written scalar reference (target >= 30x)"
    )
    out = ROOT / "benchmarks" / "results" / "bench_world.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
