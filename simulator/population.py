"""Drawing the population: users and items, their features, latents and arrival times.

Ids follow arrival order (users by registration minute, items by release minute), so the
users present at minute ``m`` are ``0 .. n_users_at(m) - 1``. The whole horizon's arrivals
are drawn up front: the tables are the world's fixed ground truth, and a run only reveals
them as the clock passes.

Latent vectors have unit variance per dimension and are the sum of a part explained by
meta features (a learned-by-features signal), and parts only an id can learn:

.. math::

    t_u = \\sqrt{1-s}\\,\\frac{1}{\\sqrt{F}}\\sum_f E_f[x_{uf}] + \\sqrt{s}\\,\\varepsilon_u,
    \\qquad
    v_i = \\sqrt{m}\\,\\frac{1}{\\sqrt{G}}\\sum_g D_g[x_{ig}] + \\sqrt{r}\\,A_{a(i)}
          + \\sqrt{1-m-r}\\,\\eta_i,

with ``s = taste_idiosyncratic_share``, ``m = share_meta``, ``r = share_artist``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.config import ItemConfig, UserConfig, WorldConfig

MINUTES_PER_DAY = 1440

USER_META_FIELDS: tuple[str, ...] = ("age_band", "gender", "region", "device")
ITEM_META_FIELDS: tuple[str, ...] = ("genre", "mood", "scene", "language")


@dataclass(frozen=True)
class UserTable:
    """All users of the horizon, id = row, sorted by registration minute.

    Attributes:
        registration_minute: ``(n,)`` int64, negative before day 0.
        meta: ``(n, len(USER_META_FIELDS))`` int64 codes.
        activity: ``(n,)`` float64 activity score ``z ~ N(0, 1)`` (ground truth).
        patience: ``(n,)`` float64 patience at the start of a session (ground truth).
        taste: ``(n, dim)`` float32 latent taste (ground truth).
    """

    registration_minute: NDArray[np.int64]
    meta: NDArray[np.int64]
    activity: NDArray[np.float64]
    patience: NDArray[np.float64]
    taste: NDArray[np.float32]

    @property
    def registration_day(self) -> NDArray[np.int64]:
        return self.registration_minute // MINUTES_PER_DAY

    def __len__(self) -> int:
        return int(self.registration_minute.shape[0])


@dataclass(frozen=True)
class ItemTable:
    """All items of the horizon, id = row, sorted by release minute.

    Attributes:
        release_minute: ``(n,)`` int64 (items appear at the start of their day).
        meta: ``(n, len(ITEM_META_FIELDS))`` int64 codes.
        artist_id: ``(n,)`` int64.
        seconds: ``(n,)`` float64 song length (whole seconds).
        latent: ``(n, dim)`` float32 (ground truth).
        appeal: ``(n,)`` float64 quality term added to every affinity (ground truth).
    """

    release_minute: NDArray[np.int64]
    meta: NDArray[np.int64]
    artist_id: NDArray[np.int64]
    seconds: NDArray[np.float64]
    latent: NDArray[np.float32]
    appeal: NDArray[np.float64]

    @property
    def release_day(self) -> NDArray[np.int64]:
        return self.release_minute // MINUTES_PER_DAY

    def __len__(self) -> int:
        return int(self.release_minute.shape[0])


def _categorical(rng: np.random.Generator, n_values: int, size: int) -> NDArray[np.int64]:
    """Codes with uneven frequencies (Dirichlet(2) weights), as real categories have."""
    p = rng.dirichlet(np.full(n_values, 2.0))
    return rng.choice(n_values, size=size, p=p).astype(np.int64)


def _meta_latent(
    rng: np.random.Generator, meta: NDArray[np.int64], cards: tuple[int, ...], dim: int
) -> NDArray[np.float64]:
    """``sum_f E_f[x_f] / sqrt(F)`` with ``E_f ~ N(0, 1)``: unit variance per dimension."""
    out = np.zeros((meta.shape[0], dim))
    for f, card in enumerate(cards):
        table = rng.standard_normal((card, dim))
        out += table[meta[:, f]]
    return out / np.sqrt(len(cards))


def _arrival_minutes(
    rng: np.random.Generator,
    n_before: int,
    history_days: int,
    per_day: float,
    n_days: int,
    at_day_start: bool,
) -> NDArray[np.int64]:
    """Sorted arrival minutes: ``n_before`` spread over the history, then Poisson arrivals."""
    before_day = rng.integers(-history_days, 0, size=n_before)
    counts = rng.poisson(per_day, size=n_days) if n_days > 0 else np.zeros(0, np.int64)
    new_day = np.repeat(np.arange(n_days, dtype=np.int64), counts)
    days = np.concatenate([before_day, new_day]).astype(np.int64)
    offsets = np.asarray(
        np.zeros_like(days)
        if at_day_start
        else rng.integers(0, MINUTES_PER_DAY, size=days.shape[0], dtype=np.int64),
        dtype=np.int64,
    )
    return np.sort(days * MINUTES_PER_DAY + offsets, kind="stable")


def draw_users(cfg: WorldConfig, n_days: int, rng: np.random.Generator) -> UserTable:
    """Draw the users registered before day 0 and during days ``0 .. n_days - 1``."""
    ucfg: UserConfig = cfg.users
    minutes = _arrival_minutes(
        rng, cfg.n_users, ucfg.history_days, cfg.new_users_per_day, n_days, at_day_start=False
    )
    n = minutes.shape[0]
    cards = (ucfg.n_age_bands, ucfg.n_genders, ucfg.n_regions, ucfg.n_devices)
    meta = np.stack([_categorical(rng, c, n) for c in cards], axis=1)
    s = ucfg.taste_idiosyncratic_share
    taste = np.sqrt(1.0 - s) * _meta_latent(rng, meta, cards, cfg.dim) + np.sqrt(
        s
    ) * rng.standard_normal((n, cfg.dim))
    activity = np.asarray(rng.standard_normal(n), dtype=np.float64)
    patience = ucfg.patience_mean * np.exp(
        ucfg.patience_activity * activity + ucfg.patience_sigma * rng.standard_normal(n)
    )
    return UserTable(
        registration_minute=minutes,
        meta=meta,
        activity=activity,
        patience=patience,
        taste=taste.astype(np.float32),
    )


def draw_items(cfg: WorldConfig, n_days: int, rng: np.random.Generator) -> ItemTable:
    """Draw the catalogue before day 0 and the songs released on days ``0 .. n_days - 1``."""
    icfg: ItemConfig = cfg.items
    minutes = _arrival_minutes(
        rng, cfg.n_items, icfg.history_days, cfg.new_items_per_day, n_days, at_day_start=True
    )
    n = minutes.shape[0]
    # Zipf law over artists: a few prolific artists, a long tail of one-song artists.
    weights = (np.arange(1, icfg.n_artists + 1, dtype=np.float64)) ** -icfg.artist_zipf
    artist = np.asarray(rng.choice(icfg.n_artists, size=n, p=weights / weights.sum()), np.int64)
    # An artist mostly sings in one genre and one language.
    artist_genre = _categorical(rng, icfg.n_genres, icfg.n_artists)
    artist_language = _categorical(rng, icfg.n_languages, icfg.n_artists)
    genre = np.where(rng.random(n) < 0.7, artist_genre[artist], _categorical(rng, icfg.n_genres, n))
    language = np.where(
        rng.random(n) < 0.9, artist_language[artist], _categorical(rng, icfg.n_languages, n)
    )
    mood = _categorical(rng, icfg.n_moods, n)
    scene = _categorical(rng, icfg.n_scenes, n)
    meta = np.stack([genre, mood, scene, language], axis=1).astype(np.int64)
    cards = (icfg.n_genres, icfg.n_moods, icfg.n_scenes, icfg.n_languages)
    artist_latent = rng.standard_normal((icfg.n_artists, cfg.dim))
    idio_share = max(0.0, 1.0 - icfg.share_meta - icfg.share_artist)
    latent = (
        np.sqrt(icfg.share_meta) * _meta_latent(rng, meta, cards, cfg.dim)
        + np.sqrt(icfg.share_artist) * artist_latent[artist]
        + np.sqrt(idio_share) * rng.standard_normal((n, cfg.dim))
    )
    seconds = np.clip(
        np.round(icfg.seconds_median * np.exp(icfg.seconds_sigma * rng.standard_normal(n))),
        icfg.min_seconds,
        icfg.max_seconds,
    )
    appeal = np.asarray(icfg.appeal_scale * (rng.standard_exponential(n) - 1.0), np.float64)
    return ItemTable(
        release_minute=minutes,
        meta=meta,
        artist_id=artist,
        seconds=seconds.astype(np.float64),
        latent=latent.astype(np.float32),
        appeal=appeal,
    )


__all__ = [
    "ITEM_META_FIELDS",
    "MINUTES_PER_DAY",
    "USER_META_FIELDS",
    "ItemTable",
    "UserTable",
    "draw_items",
    "draw_users",
]
