"""The long tail and the quality -> engagement path, measured on simulated runs.

* Popular policy: the top 5% of items get >= 80% of impressions and the top 5% of active
  users make >= 80% of samples in the default world (the paper's "5% of users/items
  account for over 80% of samples"), as in ``configs/paper_skew.toml``; the milder earlier
  world (``configs/world_mild.toml``) stays at >= 50% for users.
* Oracle beats popular beats random on active days and duration per user. The three
  runs share the world and its common random numbers, so the comparison is paired per
  user; the asserted margin is that the lower end of the 99% confidence interval of the
  mean per-user difference (paired t) is above zero, a margin set by the simulated data's
  own variance, not by a constant chosen for the test.

The default-suite versions use a smaller population for speed (the shares depend on the
shape of the activity law, not on the number of users); the full-size runs are ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from simulator.config import load_config
from simulator.engine.simulate import simulate_world

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL = [
    "world.n_users=3000",
    "world.new_users_per_day=60",
    "world.n_items=2000",
    "world.new_items_per_day=20",
    "engine.progress=false",
]


def _per_user(run: Path, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Active days and listen seconds of every registered user (zeros if never active)."""
    n_users = pq.read_metadata(run / "users.parquet").num_rows
    ev = pq.read_table(run / "events", columns=["user_id", "day", "listen_seconds"]).to_pandas()
    seconds = np.bincount(ev.user_id, weights=ev.listen_seconds, minlength=n_users)
    active = np.zeros((n_users, n_days), dtype=bool)
    active[ev.user_id.to_numpy(), ev.day.to_numpy()] = True
    return active.sum(axis=1).astype(float), seconds


def _paired_lower_bound(better: np.ndarray, worse: np.ndarray, level: float = 0.99) -> float:
    """Lower end of the two-sided ``level`` t interval of ``mean(better - worse)``."""
    d = better - worse
    se = d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean() - stats.t.ppf(0.5 + level / 2, d.size - 1) * se)


def _skew(tmp: Path, config: str, extra: list[str]) -> tuple[float, float]:
    cfg = load_config(
        CONFIGS / config, ["simulate.policy=popular", "engine.progress=false", *extra]
    )
    s = simulate_world(cfg, tmp)
    return s.top5_item_share, s.top5_user_share


@pytest.mark.xfail(
    strict=True,
    reason="issue 13, open: in the world of docs/results/world.md the top 5% of users make "
    "0.84-0.85 of the 28-day history but 0.776 of a 7-day popular run at 3,000 users and "
    "0.787 of the default A/B run's experiment days; the items' share holds (0.998)",
)
def test_default_world_skew_small(tmp_path: Path) -> None:
    item, user = _skew(tmp_path, "world.toml", [*SMALL, "simulate.days=7"])
    assert item >= 0.80, (item, user)
    assert user >= 0.80, (item, user)


@pytest.mark.slow
def test_default_world_skew_full_size(tmp_path: Path) -> None:
    item, user = _skew(tmp_path, "world.toml", ["simulate.days=14"])
    assert item >= 0.80, (item, user)
    assert user >= 0.80, (item, user)


@pytest.mark.slow
def test_the_mild_world_keeps_its_milder_skew(tmp_path: Path) -> None:
    item, user = _skew(tmp_path, "world_mild.toml", ["simulate.days=14"])
    assert item >= 0.80, (item, user)
    assert 0.50 <= user < 0.80, (item, user)


@pytest.mark.slow
def test_paper_skew_reaches_80_percent(tmp_path: Path) -> None:
    item, user = _skew(tmp_path, "paper_skew.toml", ["simulate.days=14"])
    assert item >= 0.80, (item, user)
    assert user >= 0.80, (item, user)


def _ordering(tmp: Path, extra: list[str], days: int) -> None:
    per = {}
    for policy in ("random", "popular", "oracle"):
        cfg = load_config(
            CONFIGS / "world.toml", [f"simulate.policy={policy}", f"simulate.days={days}", *extra]
        )
        simulate_world(cfg, tmp / policy)
        per[policy] = _per_user(tmp / policy, days)
    for metric, k in (("active days", 0), ("duration", 1)):
        for better, worse in (("oracle", "popular"), ("popular", "random")):
            lb = _paired_lower_bound(per[better][k], per[worse][k])
            assert lb > 0, (metric, better, worse, lb, per[better][k].mean(), per[worse][k].mean())


def test_oracle_beats_popular_beats_random_small(tmp_path: Path) -> None:
    # A week of history (the default's 28 days cost three times over here, for nothing the
    # ordering needs).
    _ordering(tmp_path, [*SMALL, "world.history_days=7"], days=7)


@pytest.mark.slow
def test_oracle_beats_popular_beats_random_full_size(tmp_path: Path) -> None:
    _ordering(tmp_path, ["engine.progress=false"], days=14)
