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

with ``s = taste_idiosyncratic_share``, ``m = share_meta``, ``r = share_artist``. The
parts a model can learn from features (the artist counts as one) are kept as ground truth
(``taste_meta``, ``latent_meta``) for the diagnostics.

Item appeal has the power-law marginal ``q_i = c (E_i - 1)``, ``E_i ~ Exp(1)``, tied to
the features by a Gaussian copula on its normal score:

.. math::

    z_i = \\sqrt{\\mu}\\,M_i + \\sqrt{\\alpha}\\,A_{a(i)} + \\sqrt{1-\\mu-\\alpha}\\,\\epsilon_i,
    \\qquad q_i = c\\big(F^{-1}(\\Phi(z_i)) - 1\\big) = c\\big(-\\log\\Phi(-z_i) - 1\\big),

with ``mu = appeal_share_meta``, ``alpha = appeal_share_artist``, ``F`` the Exp(1) cdf,
``M_i = sum_g T_g[x_ig]`` (an ``N(0, 1)`` table per meta field, summed) and ``A`` an
``N(0, 1)`` table per artist, each standardised to mean 0 and variance 1 over the items
of the horizon, and ``eps_i = Phi^{-1}(F(E_i))`` the normal score of the exponential draw
(so ``mu = alpha = 0`` gives exactly ``c (E_i - 1)``, the earlier world). The artist
table is first made uncorrelated with the meta part over the items (artists keep to a
genre and a language, so the two would correlate by chance), hence ``var(z) = 1`` and the
shares are the variances of the meta and artist components of a joint regression of ``z``
on the meta fields and the artist (separate regressions each pick up part of the other,
through the artists' genres and languages). Over a
catalogue the marginal is a Gaussian mixture around ``N(0, 1)`` whose components come
from the finite tables (lumpy when a few artists or genres dominate); over worlds it is
``N(0, 1)`` up to the standardisation.

Each user's noisy-skip rate is ``r_u ~ Beta(rho kappa, (1 - rho) kappa)`` (mean
``rho = behavior.noise_skip_rate``, variance ``rho (1 - rho) / (kappa + 1)``,
``kappa = behavior.noise_rate_concentration``; ``kappa = inf`` or ``rho = 0``: ``r_u = rho``).

New draws come after the earlier ones of the same table, so the earlier columns keep
their values; the degenerate laws draw nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_ndtr, ndtri

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
        noise_rate: ``(n,)`` float64 stationary share of noisy skips ``r_u`` (ground truth).
        taste_meta: ``(n, dim)`` float32 the part of ``taste`` explained by meta features,
            ``sqrt(1 - s) * meta latent`` (ground truth, for diagnostics).
    """

    registration_minute: NDArray[np.int64]
    meta: NDArray[np.int64]
    activity: NDArray[np.float64]
    patience: NDArray[np.float64]
    taste: NDArray[np.float32]
    noise_rate: NDArray[np.float64]
    taste_meta: NDArray[np.float32]

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
        latent_meta: ``(n, dim)`` float32 the part of ``latent`` a model can learn from
            features, ``sqrt(share_meta) * meta + sqrt(share_artist) * artist`` (ground
            truth, for diagnostics).
        appeal_meta: ``(n,)`` float64 ``E[appeal | M_i, A_a(i)]``, the appeal predictable
            from meta features and artist (ground truth, for diagnostics).
    """

    release_minute: NDArray[np.int64]
    meta: NDArray[np.int64]
    artist_id: NDArray[np.int64]
    seconds: NDArray[np.float64]
    latent: NDArray[np.float32]
    appeal: NDArray[np.float64]
    latent_meta: NDArray[np.float32]
    appeal_meta: NDArray[np.float64]

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


def _noise_rates(rng: np.random.Generator, n: int, rho: float, kappa: float) -> NDArray[np.float64]:
    """Per-user noisy-skip rates ``Beta(rho kappa, (1 - rho) kappa)``; constant ``rho`` if
    the law is degenerate (``rho = 0`` or ``kappa = inf``), without drawing."""
    if rho == 0.0 or np.isinf(kappa):
        return np.full(n, rho, dtype=np.float64)
    return np.asarray(rng.beta(rho * kappa, (1.0 - rho) * kappa, size=n), dtype=np.float64)


def _standardised(x: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """``(x - mean) / sd`` over the rows, or ``None`` if ``x`` is constant (no signal)."""
    sd = float(x.std())
    # A constant part (one artist, all meta fields of one value) standardises to 0/0.
    if not sd > 1e-12 * max(1.0, float(np.abs(x).max(initial=0.0))):
        return None
    out: NDArray[np.float64] = (x - x.mean()) / sd
    return out


def normal_score_of_exponential(e: NDArray[np.float64]) -> NDArray[np.float64]:
    """``Phi^{-1}(F(e))`` with ``F(e) = 1 - exp(-e)``, accurate in both tails.

    The lower tail uses ``F = -expm1(-e)`` (exact for small ``e``), the upper one the
    survival ``exp(-e)`` (``Phi^{-1}(1 - x) = -Phi^{-1}(x)``), so the power-law tail of the
    appeal keeps its precision.
    """
    e = np.asarray(e, dtype=np.float64)
    lower = e < np.log(2.0)
    out: NDArray[np.float64] = np.where(lower, ndtri(-np.expm1(-e)), -ndtri(np.exp(-e)))
    return out


def exponential_of_normal_score(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """``F^{-1}(Phi(z)) = -log(1 - Phi(z)) = -log Phi(-z)`` (stable ``log_ndtr``)."""
    out: NDArray[np.float64] = -log_ndtr(-np.asarray(z, dtype=np.float64))
    return out


_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(48)
_HERMITE_WEIGHTS = _HERMITE_WEIGHTS / np.sqrt(2.0 * np.pi)  # weights of E[f(N(0, 1))]


def expected_exponential_of_normal_score(
    center: NDArray[np.float64], sigma: float, chunk: int = 65_536
) -> NDArray[np.float64]:
    """``E[F^{-1}(Phi(c + sigma * eps))]``, ``eps ~ N(0, 1)``, by Gauss-Hermite quadrature.

    48 probabilists' Hermite nodes; the integrand ``-log Phi(-z)`` is smooth and grows
    like ``z^2 / 2``, so the rule is exact to about 1e-10 for ``sigma <= 1`` and
    ``|c| <= 6`` (checked against adaptive quadrature in the tests).
    """
    c = np.asarray(center, dtype=np.float64)
    if sigma == 0.0:
        return exponential_of_normal_score(c)
    out = np.empty_like(c)
    for lo in range(0, c.shape[0], chunk):  # bounds the (chunk, 48) temporary
        z = c[lo : lo + chunk, None] + sigma * _HERMITE_NODES[None, :]
        out[lo : lo + chunk] = exponential_of_normal_score(z) @ _HERMITE_WEIGHTS
    return out


def _decorrelated_artist_effect(
    values: NDArray[np.float64], artist: NDArray[np.int64], meta_part: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per-artist values minus their item-weighted linear fit on the artist's mean meta part.

    Artists mostly keep to one genre and language, so over a catalogue the artist draws
    correlate with the meta part by chance (``|corr|`` up to about 0.2 with the default
    Zipf artists, which moved the score's variance to 0.9-1.03). The covariance over items
    is ``sum_a n_a (A_a - mean A) mean_a(M) / n``; removing the weighted regression of
    ``A_a`` on ``mean_a(M)`` makes it exactly 0, so ``var(z) = mu + alpha + (1 - mu - alpha)``
    and the two shares are separate. The result is still one value per artist.
    """
    n_artists = values.shape[0]
    counts = np.bincount(artist, minlength=n_artists).astype(np.float64)
    mean_meta = np.bincount(artist, weights=meta_part, minlength=n_artists) / np.maximum(
        counts, 1.0
    )
    w = counts / counts.sum()
    a_c = values - w @ values
    m_c = mean_meta - w @ mean_meta
    denom = float(w @ (m_c * m_c))
    if denom <= 0.0:
        return values
    out: NDArray[np.float64] = values - (float(w @ (a_c * m_c)) / denom) * mean_meta
    return out


def _appeal(
    rng: np.random.Generator,
    icfg: ItemConfig,
    e: NDArray[np.float64],
    meta: NDArray[np.int64],
    cards: tuple[int, ...],
    artist: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The appeal and its feature-predictable part ``E[appeal | M, A]`` (module docstring).

    ``e`` is the item's Exp(1) draw; the meta and artist tables are drawn here, after it
    (both always, so the stream does not depend on the shares).
    """
    meta_raw = np.zeros(e.shape[0])
    for f, card in enumerate(cards):
        meta_raw += rng.standard_normal(card)[meta[:, f]]
    artist_values = rng.standard_normal(icfg.n_artists)
    mu, alpha = icfg.appeal_share_meta, icfg.appeal_share_artist
    # A constant part (one artist; one value per meta field) carries no signal: its share
    # goes to eps, so that z stays N(0, 1).
    meta_part = _standardised(meta_raw) if mu > 0 else None
    if alpha > 0 and meta_part is not None:
        artist_values = _decorrelated_artist_effect(artist_values, artist, meta_part)
    artist_part = _standardised(artist_values[artist]) if alpha > 0 else None
    center = np.zeros(e.shape[0])
    explained = 0.0
    for share, part in ((mu, meta_part), (alpha, artist_part)):
        if part is not None:
            center += np.sqrt(share) * part
            explained += share
    if explained == 0.0:
        # No feature predicts appeal: exactly the earlier world, and E[c (E - 1)] = 0.
        return icfg.appeal_scale * (e - 1.0), np.zeros(e.shape[0])
    sigma = float(np.sqrt(max(0.0, 1.0 - explained)))
    z = center + sigma * normal_score_of_exponential(e) if sigma > 0 else center
    appeal = icfg.appeal_scale * (exponential_of_normal_score(z) - 1.0)
    appeal_meta = icfg.appeal_scale * (expected_exponential_of_normal_score(center, sigma) - 1.0)
    return appeal, appeal_meta


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
    taste_meta = np.sqrt(1.0 - s) * _meta_latent(rng, meta, cards, cfg.dim)
    taste = taste_meta + np.sqrt(s) * rng.standard_normal((n, cfg.dim))
    activity = np.asarray(rng.standard_normal(n), dtype=np.float64)
    patience = ucfg.patience_mean * np.exp(
        ucfg.patience_activity * activity + ucfg.patience_sigma * rng.standard_normal(n)
    )
    b = cfg.behavior
    noise_rate = _noise_rates(rng, n, b.noise_skip_rate, b.noise_rate_concentration)
    return UserTable(
        registration_minute=minutes,
        meta=meta,
        activity=activity,
        patience=patience,
        taste=taste.astype(np.float32),
        noise_rate=noise_rate,
        taste_meta=taste_meta.astype(np.float32),
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
    latent_meta = (
        np.sqrt(icfg.share_meta) * _meta_latent(rng, meta, cards, cfg.dim)
        + np.sqrt(icfg.share_artist) * artist_latent[artist]
    )
    latent = latent_meta + np.sqrt(idio_share) * rng.standard_normal((n, cfg.dim))
    seconds = np.clip(
        np.round(icfg.seconds_median * np.exp(icfg.seconds_sigma * rng.standard_normal(n))),
        icfg.min_seconds,
        icfg.max_seconds,
    )
    exponential = np.asarray(rng.standard_exponential(n), dtype=np.float64)
    appeal, appeal_meta = _appeal(rng, icfg, exponential, meta, cards, artist)
    return ItemTable(
        release_minute=minutes,
        meta=meta,
        artist_id=artist,
        seconds=seconds.astype(np.float64),
        latent=latent.astype(np.float32),
        appeal=appeal,
        latent_meta=latent_meta.astype(np.float32),
        appeal_meta=appeal_meta,
    )


__all__ = [
    "ITEM_META_FIELDS",
    "MINUTES_PER_DAY",
    "USER_META_FIELDS",
    "ItemTable",
    "UserTable",
    "draw_items",
    "draw_users",
    "expected_exponential_of_normal_score",
    "exponential_of_normal_score",
    "normal_score_of_exponential",
]
