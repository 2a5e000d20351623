"""The configuration tree: frozen dataclasses validated in ``__post_init__``.

TOML files (``configs/*.toml``) map one-to-one onto these classes through the generic
loader in :mod:`simulator.config_loader`. Every rule names the field, its value and the
rule; the loader adds the dotted path and the file. New sections (``experiment``,
``arms``, ``analysis``) are added to :class:`Config` as fields; nothing else changes.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from simulator.config_loader import (
    apply_overrides,
    from_dict,
    parse_override,
    read_toml,
    to_toml,
)
from simulator.errors import ConfigError
from simulator.experiment_config import ArmConfig, ExperimentConfig, validate_arms

PolicyName = Literal["random", "popular", "oracle"]
HistoryPolicyName = Literal["popular", "random"]
HISTORY_POLICIES: tuple[str, ...] = ("popular", "random")


def _fail(name: str, value: Any, rule: str) -> None:
    raise ConfigError(f"{name} == {value!r}, {rule}")


def _positive(obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if not (v > 0 and math.isfinite(v)):
            _fail(n, v, "must be > 0")


def _non_negative(obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if not (v >= 0 and math.isfinite(v)):
            _fail(n, v, "must be >= 0")


def _finite(obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if not math.isfinite(v):
            _fail(n, v, "must be finite")


def _probability(obj: Any, *names: str, open_top: bool = False) -> None:
    for n in names:
        v = getattr(obj, n)
        ok = 0.0 <= v < 1.0 if open_top else 0.0 <= v <= 1.0
        if not ok:
            _fail(n, v, "must be in [0, 1)" if open_top else "must be in [0, 1]")


@dataclass(frozen=True)
class UserConfig:
    """Users: meta features, heavy-tailed activity, patience and taste.

    Each user has an activity score ``z ~ N(0, 1)``. It sets the daily return logit
    ``return_logit_mean + return_logit_activity * z``, the mean number of extra sessions on
    an active day ``extra_sessions_mean * exp(activity_sigma * z)`` (lognormal: a few heavy
    users make most samples) and the patience ``patience_mean * exp(patience_activity * z +
    patience_sigma * e)``.
    """

    n_age_bands: int = 7
    n_genders: int = 3
    n_regions: int = 30
    n_devices: int = 4
    taste_idiosyncratic_share: float = 0.5
    """Share of the taste variance that meta features do not explain (learnable only by id)."""
    activity_sigma: float = 3.0
    return_logit_mean: float = -5.0
    return_logit_activity: float = 3.0
    extra_sessions_mean: float = 0.01
    max_sessions_per_day: int = 60
    patience_mean: float = 1.0
    patience_sigma: float = 0.3
    patience_activity: float = 2.0
    history_days: int = 120
    """Pre-existing users registered uniformly on days ``-history_days .. -1``."""
    new_user_days: int = 7
    """Cohort rule: a user is "new" if registered at most this many days before day 0 or later."""

    def __post_init__(self) -> None:
        for n in ("n_age_bands", "n_genders", "n_regions", "n_devices", "max_sessions_per_day"):
            if getattr(self, n) < 1:
                _fail(n, getattr(self, n), "must be >= 1")
        _probability(self, "taste_idiosyncratic_share")
        _non_negative(self, "activity_sigma", "extra_sessions_mean", "patience_sigma")
        _non_negative(self, "patience_activity")
        _positive(self, "patience_mean", "history_days")
        _finite(self, "return_logit_mean", "return_logit_activity")
        _non_negative(self, "new_user_days")


@dataclass(frozen=True)
class ItemConfig:
    """Items (songs): meta features, artists, length, latent and heavy-tailed appeal.

    The latent is ``sqrt(share_meta) * meta + sqrt(share_artist) * artist +
    sqrt(1 - share_meta - share_artist) * idiosyncratic`` (each part unit variance per
    dimension). The appeal is ``appeal_scale * (E - 1)`` with ``E ~ Exp(1)``, so
    ``exp(appeal)`` is Pareto with tail index ``1 / appeal_scale`` (power-law popularity);
    ``E`` is tied to the features by a Gaussian copula, ``E = F^{-1}(Phi(z))`` with the
    normal score ``z = sqrt(appeal_share_meta) * M + sqrt(appeal_share_artist) * A +
    sqrt(1 - appeal_share_meta - appeal_share_artist) * eps`` (``M`` from the meta fields,
    ``A`` from the artist; :func:`simulator.world.population.draw_items`).
    """

    n_genres: int = 20
    n_moods: int = 8
    n_scenes: int = 12
    n_languages: int = 6
    n_artists: int = 2000
    artist_zipf: float = 1.1
    """Items per artist follow a Zipf law with this exponent (a few prolific artists)."""
    share_meta: float = 0.3
    """Share of the latent explained by the meta fields. With ``share_artist`` 0.1, 60% of
    a song's place in taste space is its own, learnable only through its ID from its own
    plays: what makes the ID the most informative feature of a head song and of little use
    for a tail one (chosen by ``adasim diagnose``: with 0.4 and 0.2, and the earlier
    logging policy, the IDs added 0.005 +- 0.004 of AUC on head songs;
    docs/results/world.md)."""
    share_artist: float = 0.1
    seconds_median: float = 210.0
    seconds_sigma: float = 0.3
    min_seconds: float = 60.0
    max_seconds: float = 600.0
    appeal_scale: float = 1.0
    """Scale of the appeal: ``exp(appeal)`` is Pareto with tail index ``1 / appeal_scale``,
    so 1.0 gives Zipf's law, the classic law of popularity (0.4, the earlier value, gave a
    tail index of 2.5, an appeal that hardly moved finishes beside taste)."""
    appeal_share_meta: float = 0.3
    """Share of the appeal's normal score explained by the meta fields (genre, mood, ...)."""
    appeal_share_artist: float = 0.2
    """Share of the appeal's normal score explained by the artist (0 and 0: no feature
    predicts appeal, the earlier world)."""
    history_days: int = 365

    def __post_init__(self) -> None:
        for n in ("n_genres", "n_moods", "n_scenes", "n_languages", "n_artists"):
            if getattr(self, n) < 1:
                _fail(n, getattr(self, n), "must be >= 1")
        _non_negative(self, "artist_zipf", "seconds_sigma", "appeal_scale")
        _probability(self, "share_meta", "share_artist")
        if self.share_meta + self.share_artist > 1.0:
            _fail("share_artist", self.share_artist, "share_meta + share_artist must be <= 1")
        _probability(self, "appeal_share_meta", "appeal_share_artist")
        if self.appeal_share_meta + self.appeal_share_artist > 1.0:
            _fail(
                "appeal_share_artist",
                self.appeal_share_artist,
                f"appeal_share_meta ({self.appeal_share_meta}) + appeal_share_artist must be <= 1",
            )
        _positive(self, "seconds_median", "min_seconds", "max_seconds", "history_days")
        if self.min_seconds > self.max_seconds:
            _fail("min_seconds", self.min_seconds, f"must be <= max_seconds ({self.max_seconds})")


@dataclass(frozen=True)
class BehaviorConfig:
    """The response to one recommended song, as a function of the affinity ``a``.

    * noisy skips (``true_noise_skip``) come in distraction episodes that skip whatever
      plays: user ``u`` has a rate ``r_u ~ Beta(rho * kappa, (1 - rho) * kappa)`` (mean
      ``rho = noise_skip_rate``, ``kappa = noise_rate_concentration``); an episode starts
      at a step with the hazard that makes ``r_u`` the stationary share of noisy steps and
      lasts ``1 + Geometric`` songs of mean ``noise_episode_mean_length``
      (:mod:`simulator.world.behavior`);
    * otherwise finish with probability ``sigmoid(finish_slope * a + finish_bias)``;
    * a skipped song plays ``item_seconds * max_skip_fraction * sigmoid(a) * U`` seconds
      (a noisy skip ``item_seconds * noise_listen_fraction * U``);
    * like / comment on a finished song with ``sigmoid(slope * a + bias)``; dislike on a
      (non-noise) skipped song with ``sigmoid(-dislike_slope * a + dislike_bias)``.

    The affinity is ``taste_scale * <taste, latent> / sqrt(dim) + appeal``.
    """

    taste_scale: float = 1.5
    finish_slope: float = 1.5
    finish_bias: float = -0.8
    noise_skip_rate: float = 0.1
    noise_rate_concentration: float = 4.0
    """``kappa`` of the per-user rates' Beta law (variance ``rho (1 - rho) / (kappa + 1)``);
    ``inf``: every user has exactly ``noise_skip_rate``."""
    noise_episode_mean_length: float = 3.0
    """Mean songs of a distraction episode, >= 1 (1: independent noisy skips per song)."""
    max_skip_fraction: float = 0.6
    noise_listen_fraction: float = 0.15
    like_slope: float = 1.0
    like_bias: float = -3.0
    comment_slope: float = 0.8
    comment_bias: float = -4.5
    dislike_slope: float = 1.0
    dislike_bias: float = -3.0

    def __post_init__(self) -> None:
        _non_negative(self, "taste_scale", "finish_slope", "like_slope", "comment_slope")
        _non_negative(self, "dislike_slope")
        _finite(self, "finish_bias", "like_bias", "comment_bias", "dislike_bias")
        _probability(self, "noise_skip_rate", open_top=True)
        if not self.noise_rate_concentration > 0:  # inf is allowed, nan is not
            _fail(
                "noise_rate_concentration",
                self.noise_rate_concentration,
                "must be > 0 (inf: every user has noise_skip_rate)",
            )
        m = self.noise_episode_mean_length
        if not (m >= 1 and math.isfinite(m)):
            _fail("noise_episode_mean_length", m, "must be >= 1 and finite")
        _probability(self, "max_skip_fraction", "noise_listen_fraction")


@dataclass(frozen=True)
class SessionConfig:
    """Sessions: a sequence of songs; patience falls with skips.

    A skip costs ``skip_patience_cost + consecutive_skip_cost * k`` where ``k`` is the
    number of skips right before it; a finish gives back ``finish_patience_gain``. The
    session ends when patience reaches 0, on a quit or after ``max_steps`` songs. User
    ``u`` quits at each step with hazard ``sigmoid(logit(quit_hazard) - quit_activity *
    z_u)`` (``z_u`` the activity score): casual listeners leave after a few songs whatever
    plays, heavy ones listen on (``quit_activity = 0``: the same hazard for everyone).
    """

    skip_patience_cost: float = 1.0
    consecutive_skip_cost: float = 0.5
    finish_patience_gain: float = 0.0
    quit_hazard: float = 0.2
    quit_activity: float = 1.5
    max_steps: int = 100

    def __post_init__(self) -> None:
        _positive(self, "skip_patience_cost")
        _non_negative(self, "consecutive_skip_cost", "finish_patience_gain")
        _probability(self, "quit_hazard")
        _finite(self, "quit_activity")
        if self.quit_activity and not 0 < self.quit_hazard < 1:
            _fail("quit_hazard", self.quit_hazard, "must be in (0, 1) when quit_activity != 0")
        if self.max_steps < 1:
            _fail("max_steps", self.max_steps, "must be >= 1")


@dataclass(frozen=True)
class RetentionConfig:
    """Daily return: ``P(open) = sigmoid(base_logit + beta * (s - initial_satisfaction))``.

    The satisfaction ``s`` is an exponentially smoothed finish share of the user's steps,
    ``s <- (1 - smoothing) * s + smoothing * finish_share(day)`` on days with listening. It
    is the only path from recommendation quality to active days.
    """

    satisfaction_beta: float = 2.5
    satisfaction_smoothing: float = 0.4
    initial_satisfaction: float = 0.35

    def __post_init__(self) -> None:
        _non_negative(self, "satisfaction_beta")
        _probability(self, "satisfaction_smoothing", "initial_satisfaction")


@dataclass(frozen=True)
class WorldConfig:
    """The world: its size, arrivals and the sections above.

    ``n_users`` and ``n_items`` exist before day 0; ``new_users_per_day`` and
    ``new_items_per_day`` are the Poisson means of daily arrivals.
    """

    n_users: int = 20_000
    n_items: int = 10_000
    new_users_per_day: float = 400.0
    new_items_per_day: float = 100.0
    dim: int = 16
    history_days: int = 28
    """Days of logged past before day 0 (days ``-history_days .. -1``; 0: none).

    The users registered before day 0 listen during them, served by ``history_policy``;
    agents are pre-trained on that log, so at day 0 old users and head items are warm and
    new users and new items are cold (:mod:`simulator.engine.history`)."""
    history_policy: HistoryPolicyName = "popular"
    """The logging policy of the history: ``popular`` (play counts of finishes raised to
    ``history_popular_power``, mixed with uniform exploration) or ``random``."""
    history_exploration: float = 0.02
    """Share of the history's picks drawn uniformly from the catalogue (``popular`` only):
    in the default world about a dozen plays per song over the 28 days, so tail songs are
    seen but stay data poor (with 5%, the tail's ID gain came within 0.01 of the head's on
    two world seeds of three; docs/results/world.md)."""
    history_popular_power: float = 1.2
    """Exponent of the popular logging policy (``simulate.popular_power``'s default too):
    1.5 showed everyone the same few songs, so a user's taste was seen on few distinct
    songs and counts stood in for the IDs; 1.0 flattened the items' skew below 0.8
    (docs/results/world.md)."""
    users: UserConfig = field(default_factory=UserConfig)
    items: ItemConfig = field(default_factory=ItemConfig)
    behavior: BehaviorConfig = field(default_factory=BehaviorConfig)
    sessions: SessionConfig = field(default_factory=SessionConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)

    def __post_init__(self) -> None:
        _positive(self, "n_users", "n_items", "dim")
        _non_negative(self, "new_users_per_day", "new_items_per_day", "history_popular_power")
        if not 0 <= self.history_days <= self.users.history_days:
            _fail(
                "history_days",
                self.history_days,
                f"must be in [0, users.history_days] = [0, {self.users.history_days}] "
                "(the logged past cannot start before the first registration)",
            )
        if self.history_policy not in HISTORY_POLICIES:
            _fail("history_policy", self.history_policy, f"must be one of {HISTORY_POLICIES}")
        _probability(self, "history_exploration")


@dataclass(frozen=True)
class EngineConfig:
    """How the engine batches work (never what the world does).

    ``bucket_minutes`` must divide a day (1440) so day starts fall on bucket starts.
    """

    bucket_minutes: int = 30
    chunk_rows: int = 500_000
    progress: bool = True

    def __post_init__(self) -> None:
        if self.bucket_minutes < 1 or 1440 % self.bucket_minutes:
            _fail("bucket_minutes", self.bucket_minutes, "must be >= 1 and divide 1440")
        if self.chunk_rows < 1:
            _fail("chunk_rows", self.chunk_rows, "must be >= 1")


@dataclass(frozen=True)
class SimulateConfig:
    """A world-only run (``adasim simulate``): one built-in policy for ``days`` days."""

    policy: PolicyName = "random"
    days: int = 14
    popular_power: float = 1.2
    popular_prior: float = 1.0
    popular_signal: Literal["impressions", "finishes"] = "finishes"
    oracle_top_k: int = 20

    def __post_init__(self) -> None:
        if self.days < 1:
            _fail("days", self.days, "must be >= 1")
        _non_negative(self, "popular_power")
        _positive(self, "popular_prior")
        if self.oracle_top_k < 1:
            _fail("oracle_top_k", self.oracle_top_k, "must be >= 1")


@dataclass(frozen=True)
class Config:
    """A whole configuration file."""

    name: str
    seed: int
    world: WorldConfig = field(default_factory=WorldConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    simulate: SimulateConfig = field(default_factory=SimulateConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    arms: dict[str, ArmConfig] = field(default_factory=dict)
    """Arms of an experiment (``adasim run``); empty for world-only runs."""

    def __post_init__(self) -> None:
        validate_arms(self.arms, self.experiment)
        for name, arm in self.arms.items():
            # Retrieval would silently offer the whole catalogue instead: say so up front.
            if arm.agent == "two_stage" and arm.n_candidates > self.world.n_items:
                _fail(
                    f"arms.{name}.n_candidates",
                    arm.n_candidates,
                    f"must be <= world.n_items ({self.world.n_items}), the catalogue on "
                    "day 0: retrieval cannot offer more songs than there are",
                )
        if not self.name or any(c in self.name for c in "/\\") or self.name in (".", ".."):
            _fail("name", self.name, "must be a non-empty name without path separators")
        if not 0 <= self.seed < 2**63:
            _fail("seed", self.seed, "must be in [0, 2**63)")

    def to_toml(self) -> str:
        """The resolved config as TOML (round-trips through :func:`load_config`)."""
        return to_toml(self)

    def with_overrides(self, overrides: Sequence[str], source: str = "--set") -> Config:
        """A copy with ``key.path=value`` overrides applied and validated.

        ``source`` is where messages say the bad value came from (``--grid`` for a sweep).
        """
        import tomllib

        data = apply_overrides(tomllib.loads(self.to_toml()), overrides)
        return from_dict(Config, data, "", source)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read a TOML config, apply ``--set`` overrides, validate.

    Args:
        path: The TOML file.
        overrides: ``"section.key=value"`` strings, applied in order before validation.

    Raises:
        ConfigError: missing file, bad TOML, unknown key, wrong type, broken rule; the
            message names the dotted key, the value, the rule and the file.
    """
    file_data = read_toml(path)
    data = apply_overrides(file_data, overrides)
    try:
        return from_dict(Config, data, "", str(path))
    except ConfigError as err:
        if not overrides or not _caused_by_overrides(err, file_data, overrides, str(path)):
            raise
        where = f" (in {path})"
        msg = str(err)
        msg = msg[: -len(where)] if msg.endswith(where) else msg
        raise ConfigError(f"{msg} (in --set)") from None


def _caused_by_overrides(
    err: ConfigError, file_data: dict[str, Any], overrides: Sequence[str], source: str
) -> bool:
    """Whether a bad value came from ``--set`` rather than the file.

    It did if the message's key is one an override set (or lies inside or above it,
    ``arms.*.share`` included), or if the file alone is valid, so that only an override
    can have broken a rule across keys (``n_candidates`` against a smaller ``n_items``).
    """
    key = re.match(r"[\w.*\[\]-]+", str(err))
    if key:
        path = re.sub(r"\[\d+\]", "", key.group(0))
        for text in overrides:
            set_key = parse_override(text)[0]
            joined = ".".join(set_key)
            if (
                fnmatch.fnmatchcase(joined, path)
                or joined.startswith(path + ".")
                or path.startswith(joined + ".")
            ):
                return True
    try:
        from_dict(Config, file_data, "", source)
    except ConfigError:
        return False
    return True


def write_config(config: Config, path: str | Path) -> Path:
    """Write the resolved config as TOML and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(config.to_toml(), encoding="utf-8")
    return p


__all__ = [
    "HISTORY_POLICIES",
    "BehaviorConfig",
    "Config",
    "EngineConfig",
    "HistoryPolicyName",
    "ItemConfig",
    "PolicyName",
    "RetentionConfig",
    "SessionConfig",
    "SimulateConfig",
    "UserConfig",
    "WorldConfig",
    "load_config",
    "replace",
    "write_config",
]
