"""The engine: one simpy clock (unit: minutes), coarse events, numpy batches.

simpy processes:

* ``days``: at each day start, folds yesterday's listening into satisfaction, decides
  who opens the app today and schedules their sessions (new users and items arrive by
  their pre-drawn minutes: ids follow arrival order, so arrival is a count);
* ``sessions``: every ``bucket_minutes``, admits the sessions that start in the bucket and
  advances all live sessions step by step until their clocks leave the bucket. Each step
  is one numpy batch: per arm one :class:`~simulator.types.RequestBatch`, the arm's
  ``recommend``, the world's vectorised response, the arm's ``observe`` and the event log;
* one process per hook (``add_hook(every_minutes, callback)``) for trainers, checkpoints
  and progress.

Order at a shared minute ``t`` is fixed: the day start, then hooks, then the sessions of
the bucket starting at ``t``. A hook at ``t`` therefore sees every step before ``t``.
There is no simpy process per user and no Python loop over users.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray
from tqdm import tqdm

from simulator.config import EngineConfig
from simulator.engine.eventlog import EventLog, write_items, write_users
from simulator.errors import SimulationError
from simulator.types import FeedbackBatch, Recommendation, Recommender, RequestBatch
from simulator.world.population import ITEM_META_FIELDS, MINUTES_PER_DAY, USER_META_FIELDS
from simulator.world.retention import Retention
from simulator.world.sessions import SessionBatch, advance
from simulator.world.world import RngLike, World

Assign = Callable[[NDArray[np.int64]], NDArray[np.int64]]
"""Maps user ids to arm indices (positions in the engine's ``policies``)."""

Hook = Callable[["Engine", int], None]
"""A periodic callback ``hook(engine, minute)``."""


@dataclass
class EngineStats:
    """Counters of a run (cheap, kept as the run goes)."""

    impressions: int = 0
    sessions: int = 0
    batches: int = 0


def single_arm(user_ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """Assignment of a world-only run: every user on arm 0."""
    return np.zeros(user_ids.shape[0], dtype=np.int64)


class Engine:
    """Runs a world with one recommender per arm on one simpy clock.

    Args:
        world: The world.
        policies: Arm name -> recommender; arm ``k`` is the ``k``-th key.
        assign: User ids -> arm indices (vectorised); defaults to everyone on arm 0.
            Replace it between :meth:`run` calls (``engine.assign = ...``) to switch from a
            pre-period to the experiment.
        config: Batching parameters.
        log: Where events go (``None``: not logged, e.g. for a twin value computation).
        rng: Seed of the policies' random streams (one child stream per arm).
        cohort_days: Users registered at most this many days before day 0 (or later) are
            the "new" cohort in ``users.parquet``; defaults to ``world.config.users``.

    Example:
        >>> from simulator.config import WorldConfig, EngineConfig
        >>> from simulator.policies import RandomPolicy
        >>> w = World.build(WorldConfig(n_users=50, n_items=30, new_users_per_day=2), 1, 0)
        >>> e = Engine(w, {"control": RandomPolicy()}, config=EngineConfig(progress=False))
        >>> e.run(1).impressions > 0
        True
    """

    def __init__(
        self,
        world: World,
        policies: Mapping[str, Recommender],
        assign: Assign | None = None,
        config: EngineConfig | None = None,
        log: EventLog | None = None,
        rng: RngLike = None,
        cohort_days: int | None = None,
    ) -> None:
        if not policies:
            raise SimulationError("policies is empty, need at least one arm")
        self.world = world
        self.arm_names = tuple(policies)
        self.policies = tuple(policies[a] for a in self.arm_names)
        self.assign: Assign = assign if assign is not None else single_arm
        self.config = config if config is not None else EngineConfig()
        self.log = log
        ss = rng if isinstance(rng, np.random.SeedSequence) else None
        if ss is None:
            base = np.random.default_rng(rng)
            ss = np.random.SeedSequence(int(base.integers(0, 2**63)))
        self.arm_rngs = tuple(np.random.default_rng(s) for s in ss.spawn(len(self.arm_names)))
        self.cohort_days = world.config.users.new_user_days if cohort_days is None else cohort_days
        self.retention = Retention(world.users, world.config, world.noise)
        self.stats = EngineStats()
        self.env = simpy.Environment()
        self._live = SessionBatch.empty()
        self._pending = SessionBatch.empty()
        self._pending_start = np.zeros(0, dtype=np.int64)
        self._next_session_id = 0
        self._day = -1
        self._day_started = False  # days may be negative (the history before day 0)
        self._hooks: list[tuple[int, Hook]] = []
        self._started = False
        self._progress: tqdm[Any] | None = None

    # ------------------------------------------------------------------ set-up

    def add_hook(self, every_minutes: int, callback: Hook) -> None:
        """Call ``callback(engine, minute)`` every ``every_minutes`` (before that bucket)."""
        if every_minutes < 1:
            raise SimulationError(f"every_minutes == {every_minutes}, must be >= 1")
        self._hooks.append((every_minutes, callback))
        if self._started:
            self.env.process(self._hook_process(every_minutes, callback))

    @property
    def minute(self) -> int:
        """The simpy clock."""
        return int(self.env.now)

    @property
    def day(self) -> int:
        """The current day (the last day that has started)."""
        return self._day

    # ------------------------------------------------------------------ processes

    def _days_process(self) -> Generator[simpy.Event, Any, None]:
        while True:
            self._start_day(int(self.env.now) // MINUTES_PER_DAY)
            yield self.env.timeout(MINUTES_PER_DAY)

    def _hook_process(self, every: int, callback: Hook) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(every)
            callback(self, int(self.env.now))

    def _sessions_process(self) -> Generator[simpy.Event, Any, None]:
        bucket = self.config.bucket_minutes
        while True:
            # Zero delay: every other event due at this minute (day start, hooks) runs first.
            yield self.env.timeout(0)
            t = int(self.env.now)
            self._run_bucket(t, t + bucket)
            if self._progress is not None:
                self._progress.update(bucket)
                self._progress.set_postfix(impressions=self.stats.impressions, refresh=False)
            yield self.env.timeout(bucket)

    # ------------------------------------------------------------------ days

    def _start_day(self, day: int) -> None:
        if self._day_started:
            self.retention.end_day()
        self._day = day
        self._day_started = True
        n_before = self.world.n_users_before_day(day)
        n_by_end = self.world.n_users_at((day + 1) * MINUTES_PER_DAY - 1)
        sched = self.retention.schedule_day(day, n_before, n_by_end)
        n = len(sched)
        ids = np.arange(self._next_session_id, self._next_session_id + n, dtype=np.int64)
        self._next_session_id += n
        self.stats.sessions += n
        new = SessionBatch(
            user=sched.user,
            session_id=ids,
            day=np.full(n, day, dtype=np.int64),
            index=sched.index,
            step=np.zeros(n, dtype=np.int64),
            clock=sched.start_minute.astype(np.float64) * 60.0,
            patience=self.world.users.patience[sched.user].astype(np.float64),
            consecutive_skips=np.zeros(n, dtype=np.int64),
            distraction_left=np.zeros(n, dtype=np.int64),  # a session starts undistracted
        )
        self._pending = SessionBatch.concat(self._pending, new)
        self._pending_start = np.concatenate([self._pending_start, sched.start_minute])

    # ------------------------------------------------------------------ sessions

    def _run_bucket(self, start: int, end: int) -> None:
        admit = self._pending_start < end
        if admit.any():
            self._live = SessionBatch.concat(self._live, self._pending.take(admit))
            keep = ~admit
            self._pending = self._pending.take(keep)
            self._pending_start = self._pending_start[keep]
        n_items = self.world.n_items_at(start)
        end_seconds = end * 60.0
        while len(self._live):
            due = self._live.clock < end_seconds
            if not due.any():
                break
            if due.all():
                # Every live session is due (the common case early in a bucket): serve the
                # live batch in place, no gather and scatter of the session state.
                ended = self._serve(self._live, None, start, n_items)
                if ended.any():
                    self._live = self._live.take(~ended)
                continue
            rows = np.flatnonzero(due)
            ended = self._serve(self._live.take(rows), rows, start, n_items)
            if ended.any():
                keep = np.ones(len(self._live), dtype=np.bool_)
                keep[rows[ended]] = False
                self._live = self._live.take(keep)

    def _serve(
        self, batch: SessionBatch, rows: NDArray[np.int64] | None, minute: int, n_items: int
    ) -> NDArray[np.bool_]:
        """Serve one step of every session in ``batch``; return which sessions ended.

        ``rows`` are the positions of ``batch`` in the live sessions, whose state is written
        back; ``None`` means ``batch`` is the live batch itself (updated in place).
        """
        users = batch.user
        b = users.shape[0]
        arms = np.asarray(self.assign(users), dtype=np.int64)
        if arms.shape != (b,) or (
            arms.size and (arms.min() < 0 or arms.max() >= len(self.policies))
        ):
            raise SimulationError(
                f"assign returned arm indices outside [0, {len(self.policies)}) or of the wrong shape"
            )
        items = np.empty(b, dtype=np.int64)
        pscore = np.empty(b, dtype=np.float64)
        groups: list[tuple[int, NDArray[np.int64], RequestBatch, Recommendation]] = []
        day = minute // MINUTES_PER_DAY
        for k, policy in enumerate(self.policies):
            idx = np.flatnonzero(arms == k) if len(self.policies) > 1 else np.arange(b)
            if idx.size == 0:
                continue
            req = RequestBatch(
                minute=minute,
                day=day,
                arm=self.arm_names[k],
                user_ids=users[idx],
                session_ids=batch.session_id[idx],
                steps=batch.step[idx],
                n_items=n_items,
            )
            rec = policy.recommend(req, self.arm_rngs[k])
            self._check(rec, req)
            items[idx] = rec.item_ids
            pscore[idx] = rec.pscore
            groups.append((k, idx, req, rec))
        draws = self.world.noise.draws(*batch.keys())
        resp = self.world.respond(users, items, draws, batch.distraction_left)
        seconds = self.world.items.seconds[items]
        event_minute = np.floor(batch.clock / 60.0).astype(np.int64)
        if self.log is not None:
            self.log.append(
                {
                    "minute": event_minute,
                    "day": event_minute // MINUTES_PER_DAY,
                    "user_id": users,
                    "item_id": items,
                    "arm": arms,
                    "session_id": batch.session_id,
                    "step": batch.step,
                    "pscore": pscore,
                    "listen_seconds": resp.listen_seconds,
                    "item_seconds": seconds,
                    "finish": resp.finish,
                    "skip": resp.skip,
                    "like": resp.like,
                    "comment": resp.comment,
                    "dislike": resp.dislike,
                    "true_finish_prob": resp.finish_prob,
                    "true_noise_skip": resp.noise_skip,
                }
            )
        self.retention.record(users, resp.finish)
        for k, idx, req, rec in groups:
            self.policies[k].observe(
                FeedbackBatch(
                    requests=req,
                    recommendation=rec,
                    listen_seconds=resp.listen_seconds[idx],
                    item_seconds=seconds[idx],
                    finish=resp.finish[idx],
                    skip=resp.skip[idx],
                    like=resp.like[idx],
                    comment=resp.comment[idx],
                    dislike=resp.dislike[idx],
                )
            )
        ended = advance(
            batch,
            resp.listen_seconds,
            resp.skip,
            self.world.config.sessions,
            draws,
            resp.distraction_left,
            self.world.quit_hazard[users],
        )
        if rows is not None:
            live = self._live
            live.step[rows] = batch.step
            live.clock[rows] = batch.clock
            live.patience[rows] = batch.patience
            live.consecutive_skips[rows] = batch.consecutive_skips
            live.distraction_left[rows] = batch.distraction_left
        self.stats.impressions += b
        self.stats.batches += 1
        return ended

    def _check(self, rec: Recommendation, req: RequestBatch) -> None:
        n = len(req)
        if rec.item_ids.shape != (n,) or rec.pscore.shape != (n,):
            raise SimulationError(
                f"arm {req.arm!r} returned item_ids {rec.item_ids.shape} and pscore "
                f"{rec.pscore.shape}, must both be ({n},)"
            )
        if n and (rec.item_ids.min() < 0 or rec.item_ids.max() >= req.n_items):
            raise SimulationError(f"arm {req.arm!r} recommended an item outside [0, {req.n_items})")
        if n and not ((rec.pscore > 0) & (rec.pscore <= 1)).all():
            raise SimulationError(f"arm {req.arm!r} returned a pscore outside (0, 1]")

    # ------------------------------------------------------------------ running

    def run(self, n_days: int) -> EngineStats:
        """Advance the clock by ``n_days`` days (resumable: call again to continue).

        Sessions still running at the end stay live and continue on the next call.
        """
        if n_days < 0:
            raise SimulationError(f"n_days == {n_days}, must be >= 0")
        end_day = (self.minute // MINUTES_PER_DAY) + n_days
        if end_day > self.world.n_days:
            raise SimulationError(
                f"run to day {end_day} exceeds the world's horizon n_days == {self.world.n_days}"
            )
        if not self._started:
            self.env.process(self._days_process())
            for every, cb in self._hooks:
                self.env.process(self._hook_process(every, cb))
            self.env.process(self._sessions_process())
            self._started = True
        until = end_day * MINUTES_PER_DAY
        if self.config.progress:
            self._progress = tqdm(
                total=until - self.minute, unit="min", desc="simulate", leave=False
            )
        try:
            self.env.run(until=until)
        finally:
            if self._progress is not None:
                self._progress.close()
                self._progress = None
        return self.stats

    def users_registered(self) -> int:
        """Users registered by the current minute."""
        return self.world.n_users_at(self.minute - 1) if self.minute else self.world.n_users_at(0)

    def write_tables(self, directory: str | Path) -> None:
        """Write ``users.parquet`` (users registered so far) and ``items.parquet``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        n_users = self.users_registered()
        ids = np.arange(n_users, dtype=np.int64)
        reg_day = self.world.users.registration_day[:n_users]
        arm = np.asarray(self.arm_names, dtype=object)[np.asarray(self.assign(ids), np.int64)]
        cohort = np.where(reg_day >= -self.cohort_days, "new", "old")
        write_users(
            d / "users.parquet",
            reg_day,
            arm,
            cohort,
            self.world.users.meta[:n_users],
            USER_META_FIELDS,
        )
        n_items = self.world.n_items_at(max(self.minute - 1, 0))
        items = self.world.items
        write_items(
            d / "items.parquet",
            items.release_day[:n_items],
            items.seconds[:n_items],
            items.artist_id[:n_items],
            items.meta[:n_items],
            ITEM_META_FIELDS,
        )

    def close(self, directory: str | Path | None = None) -> None:
        """Close the event log and, if ``directory`` is given, write the user/item tables."""
        if self.log is not None:
            self.log.close()
        if directory is not None:
            self.write_tables(directory)


__all__ = ["Assign", "Engine", "EngineStats", "Hook", "single_arm"]
