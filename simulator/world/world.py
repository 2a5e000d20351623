"""The long-tail world: population tables, true affinities, responses and ground truth.

:class:`World` holds the ground truth (tastes, latents, appeal); agents get only
``world.observable`` (an :class:`~simulator.types.ObservableWorld`: features, arrival
order and song lengths). The true affinity of user ``u`` and item ``i`` is

.. math::

    a_{ui} = \\kappa \\frac{\\langle t_u, v_i \\rangle}{\\sqrt{D}} + q_i,

with ``kappa = behavior.taste_scale``, ``D = dim`` and ``q_i`` the item's appeal; every
response probability is a function of it (:mod:`simulator.world.behavior`), so
:meth:`World.expected_response` gives the exact value of any policy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from simulator.config import WorldConfig
from simulator.types import FieldSpec
from simulator.world.behavior import (
    Response,
    draw_response,
    episode_start_hazard,
    expected_response,
)
from simulator.world.noise import KeyedDraws, Noise
from simulator.world.population import (
    ITEM_META_FIELDS,
    MINUTES_PER_DAY,
    USER_META_FIELDS,
    ItemTable,
    UserTable,
    draw_items,
    draw_users,
)
from simulator.world.sessions import quit_hazards

RngLike = int | np.random.Generator | np.random.SeedSequence | None


def _seed_sequence(rng: RngLike) -> tuple[np.random.SeedSequence | None, np.random.Generator]:
    if isinstance(rng, np.random.SeedSequence):
        return rng, np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return None, rng
    ss = np.random.SeedSequence(rng)
    return ss, np.random.default_rng(ss)


class WorldView:
    """The observable side of a :class:`World` (implements ``ObservableWorld``).

    It exposes features, arrival order and song lengths, never tastes, latents or appeal.
    """

    def __init__(self, world: World) -> None:
        self._world = world
        cfg = world.config
        u, i = cfg.users, cfg.items
        self._user_fields = (
            FieldSpec("user_id", "user", "id", world.n_users_total),
            FieldSpec("age_band", "user", "meta", u.n_age_bands),
            FieldSpec("gender", "user", "meta", u.n_genders),
            FieldSpec("region", "user", "meta", u.n_regions),
            FieldSpec("device", "user", "meta", u.n_devices),
        )
        self._item_fields = (
            FieldSpec("item_id", "item", "id", world.n_items_total),
            FieldSpec("artist_id", "item", "id", i.n_artists),
            FieldSpec("genre", "item", "meta", i.n_genres),
            FieldSpec("mood", "item", "meta", i.n_moods),
            FieldSpec("scene", "item", "meta", i.n_scenes),
            FieldSpec("language", "item", "meta", i.n_languages),
        )

    @property
    def user_fields(self) -> tuple[FieldSpec, ...]:
        return self._user_fields

    @property
    def item_fields(self) -> tuple[FieldSpec, ...]:
        return self._item_fields

    def user_features(self, user_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        ids = np.asarray(user_ids, dtype=np.int64)
        return np.column_stack([ids, self._world.users.meta[ids]])

    def item_features(self, item_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        ids = np.asarray(item_ids, dtype=np.int64)
        items = self._world.items
        return np.column_stack([ids, items.artist_id[ids], items.meta[ids]])

    def item_seconds(self, item_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        return self._world.items.seconds[np.asarray(item_ids, dtype=np.int64)]

    def n_users_at(self, minute: int) -> int:
        return self._world.n_users_at(minute)

    def n_items_at(self, minute: int) -> int:
        return self._world.n_items_at(minute)

    def user_registration_day(self, user_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        return self._world.users.registration_day[np.asarray(user_ids, dtype=np.int64)]

    def item_release_day(self, item_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Day on which each item was released (negative: before the simulation)."""
        return self._world.items.release_day[np.asarray(item_ids, dtype=np.int64)]


class World:
    """The simulated world: users and items of a horizon of ``n_days`` days.

    Build it with :meth:`build`. Attributes ``users`` and ``items`` hold ground truth.

    Args:
        config: The world config.
        users: The user table (ids in registration order).
        items: The item table (ids in release order).
        noise_seed: Root seed of the behaviour's common random numbers.
        n_days: Horizon for which arrivals were drawn.
    """

    def __init__(
        self,
        config: WorldConfig,
        users: UserTable,
        items: ItemTable,
        noise_seed: int,
        n_days: int,
    ) -> None:
        self.config = config
        self.users = users
        self.items = items
        self.noise = Noise(noise_seed)
        self.n_days = n_days
        self._scale = config.behavior.taste_scale / np.sqrt(config.dim)
        # Per-user episode hazards, once: the step then costs one gather, not a division.
        self._start_hazard = episode_start_hazard(
            users.noise_rate, config.behavior.noise_episode_mean_length
        )
        # Per-user quit hazards, once, for the same reason.
        self.quit_hazard = quit_hazards(users.activity, config.sessions)
        self.observable = WorldView(self)

    @classmethod
    def build(cls, config: WorldConfig, n_days: int, rng: RngLike = None) -> World:
        """Draw a world for days ``0 .. n_days - 1``.

        Args:
            config: The world config.
            n_days: Number of days of arrivals to draw (the run may use fewer).
            rng: Seed material. The population uses a generator spawned from it; the
                behaviour's common random numbers use an integer seed derived from it.

        Returns:
            The world.
        """
        if n_days < 0:
            raise ValueError(f"n_days == {n_days}, must be >= 0")
        ss, gen = _seed_sequence(rng)
        if ss is not None:
            pop_seq, noise_seq = ss.spawn(2)
            pop = np.random.default_rng(pop_seq)
            noise_seed = int(noise_seq.generate_state(2, np.uint64)[0])
        else:
            pop = gen
            noise_seed = int(gen.integers(0, 2**63))
        users = draw_users(config, n_days, pop)
        items = draw_items(config, n_days, pop)
        return cls(config, users, items, noise_seed, n_days)

    # ------------------------------------------------------------------ arrivals

    @property
    def n_users_total(self) -> int:
        """Users of the whole horizon (the vocabulary size of ``user_id``)."""
        return len(self.users)

    @property
    def n_items_total(self) -> int:
        """Items of the whole horizon."""
        return len(self.items)

    def n_users_at(self, minute: int) -> int:
        """Users registered at or before ``minute``."""
        return int(np.searchsorted(self.users.registration_minute, minute, side="right"))

    def n_items_at(self, minute: int) -> int:
        """Items released at or before ``minute``."""
        return int(np.searchsorted(self.items.release_minute, minute, side="right"))

    def n_users_before_day(self, day: int) -> int:
        """Users registered before ``day`` starts."""
        return self.n_users_at(day * MINUTES_PER_DAY - 1)

    # ------------------------------------------------------------------ truth

    def affinity(self, user_ids: ArrayLike, item_ids: ArrayLike) -> NDArray[np.float64]:
        """True affinity of broadcastable ``user_ids`` and ``item_ids`` (elementwise).

        ``user_ids[:, None]`` with ``item_ids[None, :]`` gives a matrix (cost ``B * n * dim``).
        """
        u = np.asarray(user_ids, dtype=np.int64)
        i = np.asarray(item_ids, dtype=np.int64)
        taste = self.users.taste[u]
        latent = self.items.latent[i]
        # float32 products (the tables are float32), float64 from here on.
        dot = np.einsum("...d,...d->...", taste, latent).astype(np.float64)
        out: NDArray[np.float64] = self._scale * dot + self.items.appeal[i]
        return out

    def affinity_matrix(self, user_ids: ArrayLike, n_items: int) -> NDArray[np.float64]:
        """``(B, n_items)`` true affinities of the users to items ``0 .. n_items - 1``.

        Computed in float32 (relative error about 1e-7); use :meth:`affinity` for float64.
        """
        u = np.asarray(user_ids, dtype=np.int64)
        # float32 product: this is for ranking whole catalogues (the oracle), where speed
        # matters and a relative error of ~1e-7 does not.
        dots = self.users.taste[u] @ self.items.latent[:n_items].T
        out: NDArray[np.float64] = (
            self._scale * dots.astype(np.float64) + self.items.appeal[:n_items]
        )
        return out

    def meta_affinity(self, user_ids: ArrayLike, item_ids: ArrayLike) -> NDArray[np.float64]:
        """The part of the affinity predictable from features (broadcastable ids).

        .. math::

            \\bar a_{ui} = \\kappa \\frac{\\langle t^{meta}_u, v^{meta}_i \\rangle}{\\sqrt{D}}
            + E[q_i \\mid M_i, A_{a(i)}],

        with ``t_meta`` the meta-explained taste, ``v_meta`` the meta and artist parts of
        the latent (the artist id counts as a feature) and the appeal's conditional mean
        (:attr:`~simulator.world.population.ItemTable.appeal_meta`). Since the idiosyncratic
        parts are independent with mean 0, this is ``E[a_ui | user meta, item meta,
        artist]`` over the id-only parts, given the world's tables (up to the appeal parts'
        standardisation over the catalogue). Plugging it into the finish law,
        ``sigmoid(finish_slope * abar + finish_bias)``, approximates the finish probability
        predictable from features: the exact ``E[sigmoid(.) | features]`` is flatter
        (Jensen), and its ranking can differ where the conditional variance of ``a`` does.
        """
        u = np.asarray(user_ids, dtype=np.int64)
        i = np.asarray(item_ids, dtype=np.int64)
        taste = self.users.taste_meta[u]
        latent = self.items.latent_meta[i]
        dot = np.einsum("...d,...d->...", taste, latent).astype(np.float64)
        out: NDArray[np.float64] = self._scale * dot + self.items.appeal_meta[i]
        return out

    def expected_response(
        self, user_ids: ArrayLike, item_ids: ArrayLike
    ) -> dict[str, NDArray[np.float64]]:
        """Expected response without noise of each (user, item) pair (broadcastable).

        No session state is given, so noisy skips enter at each user's stationary rate
        ``r_u`` (``users.noise_rate``); the probability at a logged step, given its
        episode state, is the log's ``true_finish_prob``.

        Returns:
            ``finish_prob``, ``listen_seconds``, ``like_prob``, ``comment_prob``,
            ``dislike_prob``, ``skip_prob`` (see :func:`simulator.world.behavior.expected_response`).
        """
        u = np.asarray(user_ids, dtype=np.int64)
        i = np.asarray(item_ids, dtype=np.int64)
        a = self.affinity(u, i)
        return expected_response(
            a, self.items.seconds[i], self.config.behavior, self.users.noise_rate[u]
        )

    def respond(
        self,
        user_ids: NDArray[np.int64],
        item_ids: NDArray[np.int64],
        keys: tuple[NDArray[np.int64], ...] | KeyedDraws,
        distraction_left: NDArray[np.int64] | None = None,
    ) -> Response:
        """Draw the response of each user to each item (common random numbers by ``keys``).

        Args:
            user_ids: ``(B,)`` users.
            item_ids: ``(B,)`` items, each in ``[0, n_items_total)``.
            keys: Integer arrays naming the step, e.g. ``(user, day, session_index, step)``,
                or the :class:`~simulator.world.noise.KeyedDraws` made from them.
            distraction_left: ``(B,)`` each session's episode state before the step
                (``SessionBatch.distraction_left``); ``None``: undistracted, as at a
                session's first step.
        """
        draws = keys if isinstance(keys, KeyedDraws) else self.noise.draws(*keys)
        a = self.affinity(user_ids, item_ids)
        return draw_response(
            a,
            self.items.seconds[item_ids],
            self.config.behavior,
            draws,
            self._start_hazard[user_ids],
            distraction_left,
        )

    def __repr__(self) -> str:
        return (
            f"World(n_users_total={self.n_users_total}, n_items_total={self.n_items_total}, "
            f"n_days={self.n_days}, dim={self.config.dim})"
        )


__all__ = ["ITEM_META_FIELDS", "USER_META_FIELDS", "World", "WorldView"]
