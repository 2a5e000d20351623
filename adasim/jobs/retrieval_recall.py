"""How well retrieval finds each user's best songs: recall@N against the oracle's top N.

Ranking can only choose among what retrieval hands it, so a retrieval stage that returns
the same popular songs to everyone caps the whole agent. The measure: for a sample of
users, the share of the user's ``N`` truly best released songs (by the world's affinity,
which the oracle policy serves from) that are among the ``N`` songs retrieval returns,

    ``recall@N = mean_u |retrieved_N(u) ∩ best_N(u)| / N``,

beside the same for the agent's own popularity ranking (its ``N`` most shown songs, the
same for every user: what retrieval would be if it learnt nothing personal), and the
number of distinct songs retrieval returns over the sample (``N`` means no
personalisation at all).

Part of the composition root: it reads the world's ground truth and the agent's serving
snapshots; the agent itself never sees the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulator.config import Config
from simulator.engine.checkpoint import load_snapshot
from simulator.engine.experiment import RunLayout
from simulator.world.world import World

MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class RecallResult:
    """Recall@N of one agent on one day.

    Attributes:
        day: The day whose start the agent is as it served.
        n: ``N``: retrieved songs and best songs compared.
        n_users: Users sampled.
        recall: Retrieval's recall@N.
        popularity_recall: Recall@N of the agent's ``N`` most shown songs.
        distinct_retrieved: Distinct songs retrieval returned over the sample.
        distinct_best: Distinct songs among the users' best ``N``.
    """

    day: int
    n: int
    n_users: int
    recall: float
    popularity_recall: float
    distinct_retrieved: int
    distinct_best: int


def _overlap(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    """Mean share of each row of ``b`` found in the same row of ``a``."""
    hits = (a[:, :, None] == b[:, None, :]).any(axis=1)
    return float(hits.mean())


def recall_at_n(
    world: World, agent: Any, users: NDArray[np.int64], n_items: int, day: int
) -> RecallResult:
    """Recall@N of ``agent.retrieve`` (N: the agent's ``n_candidates``) for ``users``."""
    retrieved = np.asarray(agent.retrieve(users, n_items), dtype=np.int64)
    n = retrieved.shape[1]
    affinity = world.affinity_matrix(users, n_items)
    best = np.argsort(-affinity, axis=1, kind="stable")[:, :n]
    shown = np.zeros(n_items)
    counts = agent.counters.item_[:n_items, 0]
    shown[: counts.size] = counts
    popular = np.argsort(-shown, kind="stable")[:n]
    return RecallResult(
        day=day,
        n=n,
        n_users=int(users.size),
        recall=_overlap(retrieved, best),
        popularity_recall=_overlap(np.broadcast_to(popular, best.shape), best),
        distinct_retrieved=int(np.unique(retrieved).size),
        distinct_best=int(np.unique(best).size),
    )


def treatment_recall(
    config: Config, root: str | Path, world: World, n_users: int = 500, seed: int = 0
) -> list[RecallResult]:
    """Recall@N of the treatment agent at the start of every experiment day.

    From its daily serving snapshots (what off-policy evaluation replays); empty when the
    run has none or the agent has no retrieval stage (``retrieve``). The users are a
    uniform sample of those registered by the day, the same seed every day.
    """
    layout = RunLayout(Path(root))
    exp = config.experiment
    out = []
    for day in range(exp.pre_days, exp.pre_days + exp.days):
        path = layout.serving(day)
        if not path.is_file():
            continue
        agent = load_snapshot(path, world)
        if not callable(getattr(agent, "retrieve", None)):
            return []
        minute = day * MINUTES_PER_DAY
        n_users_now = world.n_users_at(minute)
        rng = np.random.default_rng(seed)
        users = rng.choice(n_users_now, min(n_users, n_users_now), replace=False)
        out.append(recall_at_n(world, agent, users.astype(np.int64), world.n_items_at(minute), day))
    return out


__all__ = ["RecallResult", "recall_at_n", "treatment_recall"]
