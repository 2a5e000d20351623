"""The long-tail summary of a run directory (what ``adasim simulate`` prints).

Computed by streaming the event files row group by row group, so memory follows the
number of users and items, not the number of events. Definitions:

* ``top5_item_share``: share of impressions that go to the top 5% of the catalogue
  (``ceil(0.05 * n_items)`` items with the most impressions; the catalogue is every item
  released by the end of the run, whether shown or not);
* ``top5_user_share``: share of impressions (samples) made by the top 5% of the users who
  have at least one impression (``ceil(0.05 * n_active_users)`` users);
* ``noise_skip_share``: share of impressions with ``true_noise_skip``;
* ``finish_rate``: share of impressions with ``finish``;
* per cohort (``new``, ``old``, ``all`` of ``users.parquet``; every registered user
  counts, also those who never opened the app): ``active_days_per_user`` (days with at
  least one impression) and ``duration_per_user`` (total listen seconds).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from numpy.typing import NDArray

from simulator.errors import SimulationError

COHORTS: tuple[str, ...] = ("new", "old", "all")
_COLUMNS = ["user_id", "item_id", "day", "listen_seconds", "finish", "true_noise_skip"]


@dataclass(frozen=True)
class WorldSummary:
    """Long-tail figures of one run.

    Attributes:
        top5_item_share: Impression share of the top 5% of items.
        top5_user_share: Impression share of the top 5% of active users.
        noise_skip_share: Share of impressions that were noisy skips.
        finish_rate: Share of impressions that were finished.
        n_impressions: Number of impressions.
        n_items: Catalogue size at the end.
        n_active_users: Users with at least one impression.
        n_users: Users per cohort (``new``, ``old``, ``all``).
        active_days_per_user: Mean active days per user, per cohort.
        duration_per_user: Mean total listen seconds per user, per cohort.
    """

    top5_item_share: float
    top5_user_share: float
    noise_skip_share: float
    finish_rate: float
    n_impressions: int
    n_items: int
    n_active_users: int
    n_users: dict[str, int]
    active_days_per_user: dict[str, float]
    duration_per_user: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as indented JSON."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return p

    def __str__(self) -> str:
        lines = [
            f"impressions {self.n_impressions:,}   items {self.n_items:,}   "
            f"active users {self.n_active_users:,}",
            "",
            f"{'top 5% items: share of impressions':<40}{self.top5_item_share:>10.3f}",
            f"{'top 5% users: share of samples':<40}{self.top5_user_share:>10.3f}",
            f"{'noise-skip share':<40}{self.noise_skip_share:>10.4f}",
            f"{'finish rate':<40}{self.finish_rate:>10.4f}",
            "",
            f"{'cohort':<10}{'users':>10}{'active days/user':>20}{'duration/user (min)':>22}",
        ]
        for c in COHORTS:
            lines.append(
                f"{c:<10}{self.n_users[c]:>10,}{self.active_days_per_user[c]:>20.3f}"
                f"{self.duration_per_user[c] / 60.0:>22.2f}"
            )
        return "\n".join(lines)


def top_share(counts: NDArray[np.int64], fraction: float = 0.05) -> float:
    """Share of the total held by the top ``ceil(fraction * len(counts))`` entries."""
    total = counts.sum()
    if counts.size == 0 or total == 0:
        return float("nan")
    k = max(1, math.ceil(fraction * counts.size))
    top = np.partition(counts, counts.size - k)[counts.size - k :]
    return float(top.sum() / total)


def summarize_run(directory: str | Path, n_days: int) -> WorldSummary:
    """Compute the :class:`WorldSummary` of a run directory.

    Args:
        directory: Holds ``events/part-*.parquet``, ``users.parquet`` and ``items.parquet``.
        n_days: Number of days of the run (events have ``0 <= day < n_days``).
    """
    d = Path(directory)
    files = sorted((d / "events").glob("part-*.parquet"))
    if not files:
        raise SimulationError(f"no event files in {d / 'events'}")
    users = pq.read_table(d / "users.parquet", columns=["user_id", "cohort"])
    n_users = users.num_rows
    cohort = np.asarray(users.column("cohort").to_numpy(zero_copy_only=False)).astype(str)
    n_items = pq.read_metadata(d / "items.parquet").num_rows

    per_item = np.zeros(n_items, dtype=np.int64)
    per_user = np.zeros(n_users, dtype=np.int64)
    seconds = np.zeros(n_users, dtype=np.float64)
    active = np.zeros((n_users, max(n_days, 1)), dtype=np.bool_)
    n_noise = n_finish = n_rows = 0
    for f in files:
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(columns=_COLUMNS, batch_size=1_000_000):
            u = batch.column("user_id").to_numpy()
            i = batch.column("item_id").to_numpy()
            day = batch.column("day").to_numpy()
            if u.size and (u.max() >= n_users or i.max() >= n_items or day.max() >= n_days):
                raise SimulationError(
                    f"events of {d} refer to users, items or days beyond users.parquet, "
                    f"items.parquet or n_days == {n_days}"
                )
            per_item += np.bincount(i, minlength=n_items)
            per_user += np.bincount(u, minlength=n_users)
            seconds += np.bincount(
                u, weights=batch.column("listen_seconds").to_numpy(), minlength=n_users
            )
            active[u, day] = True
            n_noise += int(np.asarray(batch.column("true_noise_skip")).sum())
            n_finish += int(np.asarray(batch.column("finish")).sum())
            n_rows += u.size
    days = active.sum(axis=1)
    masks = {"new": cohort == "new", "old": cohort == "old", "all": np.ones(n_users, bool)}
    active_users = per_user[per_user > 0]
    return WorldSummary(
        top5_item_share=top_share(per_item),
        top5_user_share=top_share(active_users),
        noise_skip_share=n_noise / n_rows if n_rows else float("nan"),
        finish_rate=n_finish / n_rows if n_rows else float("nan"),
        n_impressions=n_rows,
        n_items=n_items,
        n_active_users=int(active_users.size),
        n_users={c: int(m.sum()) for c, m in masks.items()},
        active_days_per_user={
            c: float(days[m].mean()) if m.any() else float("nan") for c, m in masks.items()
        },
        duration_per_user={
            c: float(seconds[m].mean()) if m.any() else float("nan") for c, m in masks.items()
        },
    )


__all__ = ["COHORTS", "WorldSummary", "summarize_run", "top_share"]
