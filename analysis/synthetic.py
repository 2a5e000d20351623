"""A small synthetic event log with a known effect, for tests, examples and benchmarks.

Not the simulator: no recommender, no learning, just enough structure to exercise the
analysis (heavy-tailed activity, users arriving over time, a pre-period, sessions of
several songs, long-tail item popularity) with effects that are known exactly:

* ``return_lift``: the treatment multiplies each user's daily return probability by
  ``1 + return_lift`` during the experiment (moves active days, sessions, counts);
* ``finish_lift``: the treatment multiplies each song's finish probability by
  ``1 + finish_lift`` (moves finishes, likes, duration, finish rate);
* ``popularity_exponent_treatment``: the treatment draws items from a flatter or steeper
  power law than control (moves the bias metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.metrics import MetricsWindow


@dataclass(frozen=True)
class SyntheticLogConfig:
    """Sizes and effects of a synthetic log.

    Attributes:
        n_users: Users assigned to the experiment (registered by its last day).
        n_items: Catalogue size.
        pre_days: Days of pre-period (everyone on control) before the experiment.
        n_days: Days of experiment.
        new_user_share: Share of users who register during the experiment.
        return_lift: Relative lift of the daily return probability under treatment.
        finish_lift: Relative lift of the finish probability under treatment.
        popularity_exponent: Zipf exponent of item popularity under control.
        popularity_exponent_treatment: Exponent under treatment (``None``: same as control).
        mean_steps: Mean songs per session.
    """

    n_users: int = 2_000
    n_items: int = 500
    pre_days: int = 7
    n_days: int = 14
    new_user_share: float = 0.2
    return_lift: float = 0.0
    finish_lift: float = 0.0
    popularity_exponent: float = 1.1
    popularity_exponent_treatment: float | None = None
    mean_steps: float = 4.0

    def __post_init__(self) -> None:
        for name in ("n_users", "n_items", "n_days"):
            if getattr(self, name) < 1:
                raise AnalysisError(f"{name} == {getattr(self, name)}, must be >= 1")
        if self.pre_days < 0:
            raise AnalysisError(f"pre_days == {self.pre_days}, must be >= 0")
        if not 0 <= self.new_user_share <= 1:
            raise AnalysisError(f"new_user_share == {self.new_user_share}, must be in [0, 1]")
        if self.mean_steps < 1:
            raise AnalysisError(f"mean_steps == {self.mean_steps}, must be >= 1")

    @property
    def window(self) -> MetricsWindow:
        """The analysis window of this log (days ``0 .. n_days - 1``, pre-period before)."""
        return MetricsWindow(
            start_day=0,
            end_day=self.n_days,
            pre_start_day=-self.pre_days if self.pre_days else None,
            pre_end_day=0 if self.pre_days else None,
        )


def synthetic_log(
    config: SyntheticLogConfig | None = None,
    rng: int | np.random.Generator | np.random.SeedSequence | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw ``(events, users)`` with the columns of ``analysis.schema``.

    Args:
        config: Sizes and effects.
        rng: Seed or generator.

    Returns:
        The event log (one row per impression) and the users table (one row per user).
    """
    cfg = config or SyntheticLogConfig()
    gen = np.random.default_rng(rng)
    n = cfg.n_users
    first_day = -cfg.pre_days
    n_total_days = cfg.pre_days + cfg.n_days
    is_new = gen.random(n) < cfg.new_user_share
    reg = np.where(
        is_new,
        gen.integers(0, cfg.n_days, size=n),
        first_day - 1 - gen.integers(0, 60, size=n),
    ).astype(np.int64)
    treat = gen.random(n) < 0.5
    # Heavy-tailed activity: a few users return almost daily, most rarely.
    p_return = np.clip(gen.beta(0.6, 2.0, size=n), 0.01, 0.95)
    finish_p = np.clip(gen.beta(3.0, 3.0, size=n), 0.02, 0.95)

    days = np.arange(first_day, cfg.n_days)
    in_exp = days >= 0
    p = np.broadcast_to(p_return[:, None], (n, n_total_days)).copy()
    lift = np.where(treat[:, None] & in_exp[None, :], 1.0 + cfg.return_lift, 1.0)
    p = np.clip(p * lift, 0.0, 1.0)
    active = (gen.random((n, n_total_days)) < p) & (days[None, :] >= reg[:, None])
    uu, dd = np.nonzero(active)
    n_sessions = 1 + gen.poisson(0.5, size=uu.size)
    s_user = np.repeat(uu, n_sessions)
    s_day = np.repeat(days[dd], n_sessions)
    n_steps = gen.geometric(1.0 / cfg.mean_steps, size=s_user.size)
    session_id = np.repeat(np.arange(s_user.size), n_steps)
    user = np.repeat(s_user, n_steps)
    day = np.repeat(s_day, n_steps)
    starts = np.cumsum(n_steps) - n_steps
    step = np.arange(user.size) - np.repeat(starts, n_steps)
    m = user.size

    treated_now = treat[user] & (day >= 0)
    item = _zipf_items(gen, m, cfg.n_items, cfg.popularity_exponent)
    if cfg.popularity_exponent_treatment is not None and treated_now.any():
        item[treated_now] = _zipf_items(
            gen, int(treated_now.sum()), cfg.n_items, cfg.popularity_exponent_treatment
        )
    item_seconds = 150.0 + 100.0 * ((item * 2654435761) % 1000) / 1000.0
    fp = np.clip(finish_p[user] * np.where(treated_now, 1.0 + cfg.finish_lift, 1.0), 0.0, 1.0)
    noise_skip = gen.random(m) < 0.05
    finish = (gen.random(m) < fp) & ~noise_skip
    listen = np.where(finish, item_seconds, item_seconds * gen.random(m) * 0.6)
    like = finish & (gen.random(m) < 0.15)
    comment = finish & (gen.random(m) < 0.03)
    dislike = ~finish & (gen.random(m) < 0.05)
    arm = np.where(treated_now, "treatment", "control")
    minute = day * 1440 + gen.integers(0, 1440, size=m)
    events = pd.DataFrame(
        {
            "minute": minute.astype(np.int64),
            "day": day.astype(np.int32),
            "user_id": user.astype(np.int64),
            "item_id": item.astype(np.int64),
            "arm": arm,
            "session_id": session_id.astype(np.int64),
            "step": step.astype(np.int32),
            "pscore": np.full(m, 1.0 / cfg.n_items),
            "listen_seconds": listen,
            "item_seconds": item_seconds,
            "finish": finish,
            "skip": ~finish,
            "like": like,
            "comment": comment,
            "dislike": dislike,
            "true_finish_prob": fp,
            "true_noise_skip": noise_skip,
        }
    )
    users = pd.DataFrame(
        {
            "user_id": np.arange(n, dtype=np.int64),
            "arm": np.where(treat, "treatment", "control"),
            "registration_day": reg.astype(np.int32),
            "cohort": np.where(is_new, "new", "old"),
            "device": gen.integers(0, 3, size=n).astype(np.int64),
        }
    )
    return events, users


def _zipf_items(gen: np.random.Generator, size: int, n_items: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n_items + 1) ** exponent
    cdf = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cdf, gen.random(size)), n_items - 1).astype(np.int64)


__all__ = ["SyntheticLogConfig", "synthetic_log"]
