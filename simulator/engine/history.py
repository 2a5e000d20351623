"""The logged past: the old users' listening before day 0, served by a logging policy.

A production recommender that starts an experiment has been serving for months: its old
users and head items have long histories, its new users and new items none. The world
reproduces this. Before day 0 it simulates days ``-H .. -1`` (``H = world.history_days``)
with a fast built-in logging policy (``world.history_policy``) and logs every impression
with its exact propensity, exactly as a run logs its experiment. Users take part from the
day they registered (so an old user registered 120 days ago has ``H`` days of history, a
user registered 3 days before day 0 has 3, a user registered during the experiment none);
items released before day 0 are in the catalogue from their release day.

The log is written to ``history/`` of the run folder (``events/``, ``users.parquet``,
``items.parquet``: the layout of any run folder, so ``adasim offline`` reads it), with
``retention.npy``, the users' satisfaction at the end of day ``-1``, which the experiment
starts from (the only state of the world that carries over: sessions still running at
midnight before day 0 end there). Agents are then pre-trained on the log
(:func:`replay_history`, which gives the log back as the batches the engine served), each
with its own model and framework; both arms see the same log.

The history is a pure function of the config: its random numbers are the world's keyed
uniforms (days are negative keys) and the logging policy's own stream, derived from the
root seed. A folder is complete when ``done.json`` is there; an interrupted history is
simulated again from the start (into ``.staging``, moved in place at the end).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from numpy.typing import NDArray

from simulator.config import Config, EngineConfig
from simulator.engine.engine import Engine
from simulator.engine.eventlog import EventLog
from simulator.errors import SimulationError
from simulator.policies import PopularPolicy, RandomPolicy
from simulator.types import FeedbackBatch, Recommendation, Recommender, RequestBatch
from simulator.world.population import MINUTES_PER_DAY
from simulator.world.world import World

HISTORY_ARM = "history"
"""The arm name of every row of the history log."""


class ExploringPopular:
    """Popularity with uniform exploration: the history's logging policy.

    With ``pi_pop`` the :class:`~simulator.policies.PopularPolicy` distribution (finishes
    observed so far, raised to ``power``) and ``eps`` the exploration share, item ``i`` of
    ``n`` is drawn with probability ``(1 - eps) pi_pop(i) + eps / n``, its ``pscore``.
    Every item has a positive propensity, so the log supports off-policy estimates.
    """

    def __init__(self, power: float, exploration: float) -> None:
        self.popular = PopularPolicy(power=power, prior=1.0, signal="finishes")
        self.exploration = exploration

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        n = requests.n_items
        p = (1.0 - self.exploration) * self.popular.probabilities(n) + self.exploration / n
        cdf = np.cumsum(p)
        u = rng.random(len(requests)) * cdf[-1]
        items = np.minimum(np.searchsorted(cdf, u, side="right"), n - 1).astype(np.int64)
        return Recommendation(item_ids=items, pscore=p[items])

    def observe(self, feedback: FeedbackBatch) -> None:
        self.popular.observe(feedback)


def history_policy(config: Config) -> ExploringPopular | RandomPolicy:
    """The configured logging policy of the history."""
    w = config.world
    if w.history_policy == "random":
        return RandomPolicy()
    return ExploringPopular(w.history_popular_power, w.history_exploration)


def _history_seed(config: Config) -> np.random.SeedSequence:
    # Its own branch of the root seed: the world and the experiment's streams are unchanged.
    return np.random.SeedSequence([config.seed, 2])


@dataclass(frozen=True)
class HistoryLog:
    """A finished history folder.

    Attributes:
        directory: ``history/`` of a run (or any folder :func:`simulate_history` wrote).
        n_rows: Impressions in the log.
        days: ``H``: the log covers days ``-H .. -1``.
    """

    directory: Path
    n_rows: int
    days: int

    def satisfaction(self) -> NDArray[np.float64]:
        """Every user's satisfaction at the end of the history (the experiment's start)."""
        out: NDArray[np.float64] = np.load(self.directory / "retention.npy")
        return out

    def event_files(self) -> list[Path]:
        return sorted((self.directory / "events").glob("part-*.parquet"))


def simulate_history(config: Config, out_dir: str | Path, world: World | None = None) -> HistoryLog:
    """Simulate the history of ``config`` into ``out_dir`` (kept if already complete).

    Args:
        config: The run's config; ``world.history_days`` days are simulated.
        out_dir: The history folder (``RUN/history``).
        world: The run's world (built from ``config`` if not given; it must be that one).

    Returns:
        The finished log.
    """
    out = Path(out_dir)
    done = out / "done.json"
    if done.is_file():
        info = json.loads(done.read_text(encoding="utf-8"))
        return HistoryLog(out, int(info["n_rows"]), int(info["days"]))
    days = config.world.history_days
    if world is None:
        from simulator.engine.experiment import build_world  # the experiment's world, seed included

        world = build_world(config)
    staging = out.parent / ".staging" / out.name
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)  # an interrupted history: start it again
    staging.mkdir(parents=True)
    log = EventLog(staging, [HISTORY_ARM], config.engine.chunk_rows)
    engine = Engine(
        world,
        {HISTORY_ARM: history_policy(config)},
        config=EngineConfig(
            bucket_minutes=config.engine.bucket_minutes,
            chunk_rows=config.engine.chunk_rows,
            progress=False,
        ),
        log=log,
        rng=_history_seed(config),
    )
    if days:
        from simulator.engine.checkpoint import restart_clock

        restart_clock(engine, -days * MINUTES_PER_DAY)
        engine.run(days)
    log.close()
    engine.retention.end_day()  # fold day -1 into the satisfaction the experiment starts from
    engine.write_tables(staging)
    np.save(staging / "retention.npy", engine.retention.satisfaction)
    n_rows = engine.stats.impressions
    (staging / "done.json").write_text(
        json.dumps({"n_rows": n_rows, "days": days}, indent=2) + "\n", encoding="utf-8"
    )
    staging.replace(out)
    return HistoryLog(out, n_rows, days)


_REPLAY_COLUMNS = (
    "minute",
    "user_id",
    "item_id",
    "session_id",
    "step",
    "pscore",
    "listen_seconds",
    "item_seconds",
    "finish",
    "skip",
    "like",
    "comment",
    "dislike",
)


def _step_call(
    bucket: NDArray[np.int64], session: NDArray[np.int64], step: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Per row, the engine's step call within its bucket: steps since the session's first."""
    _, key = np.unique(np.stack([bucket, session]), axis=1, return_inverse=True)
    first = np.full(int(key.max()) + 1 if key.size else 0, np.iinfo(np.int64).max)
    np.minimum.at(first, key, step)
    out: NDArray[np.int64] = step - first[key]
    return out


def replay_history(
    history: HistoryLog, world: World, arm: str, bucket_minutes: int
) -> Iterator[FeedbackBatch]:
    """The history log as the feedback batches it was served in, oldest first.

    Each batch is one call of the engine's step: the rows of one bucket are contiguous in
    the log (buckets run in time order), and within a bucket step ``j`` of the engine
    serves exactly the sessions that were served at step ``j - 1`` and are still due, so a
    row's step call is its session's number of earlier rows in the bucket. The replay is
    therefore the stream as it was observed: an agent's counts (impressions, likes so far)
    are those it would have had when each row was served. Ground-truth columns are not read.

    Args:
        history: The log.
        world: The run's world (for the catalogue size at each bucket).
        arm: The arm name the requests carry (the agent's own).
        bucket_minutes: The engine's bucket length.
    """
    for path in history.event_files():
        table = pq.read_table(path, columns=list(_REPLAY_COLUMNS))
        cols = {c: table.column(c).to_numpy() for c in _REPLAY_COLUMNS}
        bucket = cols["minute"] // bucket_minutes
        if bucket.size and (np.diff(bucket) < 0).any():
            raise SimulationError(f"{path}: rows are not in bucket order; not a history log")
        call = _step_call(bucket, cols["session_id"], cols["step"])
        cuts = np.flatnonzero((np.diff(bucket) != 0) | (np.diff(call) != 0)) + 1
        for rows in np.split(np.arange(bucket.size), cuts):
            if not rows.size:
                continue
            start = int(bucket[rows[0]]) * bucket_minutes
            requests = RequestBatch(
                minute=start,
                day=start // MINUTES_PER_DAY,
                arm=arm,
                user_ids=cols["user_id"][rows].astype(np.int64),
                session_ids=cols["session_id"][rows].astype(np.int64),
                steps=cols["step"][rows].astype(np.int64),
                n_items=world.n_items_at(start),
            )
            yield FeedbackBatch(
                requests=requests,
                recommendation=Recommendation(
                    item_ids=cols["item_id"][rows].astype(np.int64),
                    pscore=cols["pscore"][rows].astype(np.float64),
                ),
                listen_seconds=cols["listen_seconds"][rows].astype(np.float64),
                item_seconds=cols["item_seconds"][rows].astype(np.float64),
                finish=cols["finish"][rows].astype(np.bool_),
                skip=cols["skip"][rows].astype(np.bool_),
                like=cols["like"][rows].astype(np.bool_),
                comment=cols["comment"][rows].astype(np.bool_),
                dislike=cols["dislike"][rows].astype(np.bool_),
            )


def learn_history(
    agent: Recommender, history: HistoryLog, world: World, arm: str, bucket_minutes: int
) -> None:
    """Pre-train an agent on the history log before the pre-period.

    An agent with ``learn_history(batches, n_rows)`` decides how (the two-stage agent
    updates its counters on every row and trains on the most recent ones); any other agent
    observes every batch, as if it had been listening to the stream all along.
    """
    batches = replay_history(history, world, arm, bucket_minutes)
    learn = getattr(agent, "learn_history", None)
    if callable(learn):
        learn(batches, history.n_rows)
        return
    for batch in batches:
        agent.observe(batch)


__all__ = [
    "HISTORY_ARM",
    "ExploringPopular",
    "HistoryLog",
    "history_policy",
    "learn_history",
    "replay_history",
    "simulate_history",
]
