"""The environments' dynamics: many users' episodes as arrays, stepped by the world's own calls.

An **episode** follows one user over days ``0 .. n_days - 1`` of the world. It starts at
the user's first session of day 0 and serves the user's sessions one song at a time, in
order of their start: the sessions of a day, then the next day the user opens the app,
until the horizon. Each row of :class:`EpisodeRows` is one episode; a step serves every
stepping row in one numpy batch with the engine's own components:

* :meth:`World.respond <simulator.world.World.respond>`: finish, skip, like, comment,
  dislike, listen time and the noisy-skip episodes (``distraction_left``);
* :func:`simulator.world.sessions.advance`: patience, the per-user quit hazard, ``max_steps``;
* the formulas of :mod:`simulator.world.retention`: after a user's last session of a day the
  satisfaction folds in the day's finish share, and on each later day the user opens the
  app with ``return_probability``; an active day has ``session_counts`` sessions starting
  at ``session_start``.

So the dynamics are the engine's, number for number (``noise="world"``): a session step
is keyed ``(user, day, session, step)``; a step belongs to the day of its clock (the
engine serves it in that day's bucket), which sets the catalogue (songs are released at
day starts) and the day whose finish share it counts in; steps at or after the horizon's
end are not served (an engine run of ``n_days`` days stops there). Sessions of one user
that overlap in time are served one after the other here, interleaved by the engine; a
session's numbers depend only on its own keys and state, so each is the same.

Who is followed: a user registered by the end of day 0, drawn with probability
proportional to their chance of opening the app on day 0 (the day-0 open probability at
the initial satisfaction; 1 for users registering on day 0): a random member of day 0's
traffic, so heavy users are met as often as they listen. The episode is conditioned on
the user opening the app on day 0. No logged past is simulated (``world.history_days``):
satisfaction starts at ``retention.initial_satisfaction``, as in an engine run without one.

Seeding: episode ``k`` of a stream with root ``r`` draws its user from the keyed uniform
``U(r, k)`` and (``noise="episode"``) its noise key from another hash of ``(r, k)``, so an
episode depends on ``(r, k)`` alone, never on other rows: row ``i`` of a vector env reset
with seed ``s`` is the single env reset with seed ``s + i``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from adasim.envs.env_config import EnvConfig, InvalidActionError
from simulator.world.noise import hash64, uniform
from simulator.world.population import MINUTES_PER_DAY
from simulator.world.retention import (
    day_window,
    fold_satisfaction,
    return_probability,
    session_counts,
    session_start,
)
from simulator.world.sessions import SessionBatch, advance
from simulator.world.world import World

FEEDBACK: tuple[str, ...] = ("finish", "skip", "like", "comment", "dislike")
"""Columns of ``history_feedback``, in order."""

SECONDS_PER_DAY = float(MINUTES_PER_DAY * 60)
_USER_TAG = "adasim.envs/episode_user"
_NOISE_TAG = "adasim.envs/episode_noise"

Rows = slice | NDArray[np.int64]
"""Rows of an :class:`EpisodeRows`: an index array, or ``slice(None)`` for all of them."""


def clock_day(clock: NDArray[np.float64]) -> NDArray[np.int64]:
    """The day ``d`` with ``d * 86400 <= clock < (d + 1) * 86400`` (exact comparisons).

    The engine serves a step in the bucket its clock (seconds) falls in, and compares the
    clock with bucket ends exactly; the division alone could round across a midnight.
    """
    d = np.floor(clock / SECONDS_PER_DAY).astype(np.int64)
    d -= d * SECONDS_PER_DAY > clock
    d += (d + 1) * SECONDS_PER_DAY <= clock
    return d


def episode_roots(seed: int, n: int) -> NDArray[np.int64]:
    """Roots ``seed, seed + 1, ..., seed + n - 1`` (mod 2**64) as int64 keys."""
    roots: NDArray[np.int64] = (np.uint64(seed) + np.arange(n, dtype=np.uint64)).view(np.int64)
    return roots


@dataclass(frozen=True)
class WorldTables:
    """What every episode of a world and horizon reads (shared, read only).

    Attributes:
        n_items_by_day: ``(n_days,)`` songs released by each day (the catalogue).
        n_eligible: Users an episode can follow: those registered by the end of day 0.
        user_weights: ``(n_eligible,)`` each one's unnormalised chance of being followed:
            the day-0 open probability at the initial satisfaction, 1 if registering on day 0.
        cum_weights: Their cumulative sums (for drawing by inversion).
        user_features: ``(n_eligible, 5)`` ``world.observable.user_features`` of them.
    """

    n_items_by_day: NDArray[np.int64]
    n_eligible: int
    user_weights: NDArray[np.float64]
    cum_weights: NDArray[np.float64]
    user_features: NDArray[np.int64]


_TABLES: weakref.WeakKeyDictionary[World, dict[int, WorldTables]] = weakref.WeakKeyDictionary()


def world_tables(world: World, n_days: int) -> WorldTables:
    """The :class:`WorldTables` of ``world`` and ``n_days``, computed once per world."""
    cached = _TABLES.setdefault(world, {})
    if n_days not in cached:
        n_old = world.n_users_before_day(0)
        n_eligible = world.n_users_at(MINUTES_PER_DAY - 1)
        weights = np.ones(n_eligible, dtype=np.float64)
        initial = world.config.retention.initial_satisfaction
        weights[:n_old] = return_probability(
            world.users.activity[:n_old], np.full(n_old, initial), world.config
        )
        tables = WorldTables(
            n_items_by_day=np.array(
                [world.n_items_at(d * MINUTES_PER_DAY) for d in range(n_days)], dtype=np.int64
            ),
            n_eligible=n_eligible,
            user_weights=weights,
            cum_weights=np.cumsum(weights),
            user_features=world.observable.user_features(np.arange(n_eligible)),
        )
        for arr in (tables.n_items_by_day, weights, tables.cum_weights, tables.user_features):
            arr.flags.writeable = False
        cached[n_days] = tables
    return cached[n_days]


@dataclass(frozen=True)
class StepResult:
    """What one step did, one entry per stepped row; arrays ``(B,)``.

    Observed: ``item_id``, ``minute`` (of the step, as the event log's), ``listen_seconds``,
    ``item_seconds``, ``listen_fraction``, ``finish``, ``skip``, ``like``, ``comment``, ``dislike``,
    ``invalid_action`` (a song not yet released, skipped unheard), ``session_ended``.
    Ground truth: ``true_finish_prob`` (given the noisy-skip state),
    ``true_noise_skip``, ``true_affinity``. Then ``reward``, ``terminated`` (no session of
    the user is left in the horizon) and ``truncated`` (``max_episode_steps``).
    """

    item_id: NDArray[np.int64]
    minute: NDArray[np.int64]
    listen_seconds: NDArray[np.float64]
    item_seconds: NDArray[np.float64]
    listen_fraction: NDArray[np.float64]
    finish: NDArray[np.bool_]
    skip: NDArray[np.bool_]
    like: NDArray[np.bool_]
    comment: NDArray[np.bool_]
    dislike: NDArray[np.bool_]
    invalid_action: NDArray[np.bool_]
    session_ended: NDArray[np.bool_]
    true_finish_prob: NDArray[np.float64]
    true_noise_skip: NDArray[np.bool_]
    true_affinity: NDArray[np.float64]
    reward: NDArray[np.float64]
    terminated: NDArray[np.bool_]
    truncated: NDArray[np.bool_]


class EpisodeRows:
    """``n_rows`` user episodes as parallel arrays (the working state of both envs).

    Args:
        world: The world (shared, read only).
        config: The options, ``n_days`` resolved.
        n_rows: Number of episodes run side by side.
    """

    def __init__(self, world: World, config: EnvConfig, n_rows: int) -> None:
        self.world = world
        self.config = config
        self.n_rows = n_rows
        self.n_days = config.days
        self.horizon_seconds = self.n_days * SECONDS_PER_DAY
        self.n_actions = world.n_items_total
        tables = world_tables(world, self.n_days)
        self.n_items_by_day = tables.n_items_by_day
        self.n_eligible = tables.n_eligible
        self.user_weights = tables.user_weights
        self._cum_weights = tables.cum_weights
        self.user_table = tables.user_features
        initial = world.config.retention.initial_satisfaction
        n = n_rows
        h = config.history_length
        zeros = np.zeros(n, dtype=np.int64)
        self._all = np.arange(n, dtype=np.int64)
        self.roots = zeros.copy()
        self.counters = zeros.copy()
        self.noise_key = zeros.copy()
        self.sessions = SessionBatch(
            user=zeros.copy(),
            session_id=zeros.copy(),
            day=zeros.copy(),
            index=zeros.copy(),
            step=zeros.copy(),
            clock=np.zeros(n),
            patience=np.zeros(n),
            consecutive_skips=zeros.copy(),
            distraction_left=zeros.copy(),
        )
        self.session_count = zeros.copy()
        self.n_sessions = np.ones(n, dtype=np.int64)
        self.window_start = zeros.copy()
        self.window = zeros.copy()
        self.satisfaction = np.full(n, initial)
        self.day_steps = np.zeros((n, self.n_days), dtype=np.int64)
        self.day_finishes = np.zeros((n, self.n_days), dtype=np.int64)
        self.episode_steps = zeros.copy()
        self.over = np.ones(n, dtype=np.bool_)
        self.truncated = np.zeros(n, dtype=np.bool_)
        self.history_items = np.full((n, h), -1, dtype=np.int64)
        self.history_feedback = np.zeros((n, h, len(FEEDBACK)), dtype=np.int8)
        self.history_listen = np.zeros((n, h), dtype=np.float32)

    # ------------------------------------------------------------------ randomness

    def _prefix(self, rows: Rows) -> tuple[NDArray[np.int64], ...]:
        """Keys before the engine's: the episode's noise key, or none (``noise="world"``)."""
        return (self.noise_key[rows],) if self.config.noise == "episode" else ()

    def draw_users(
        self, roots: NDArray[np.int64], counters: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """The user of episode ``counters`` of each stream ``roots`` (by inversion)."""
        u = uniform(self.world.noise.seed, _USER_TAG, roots, counters)
        users = np.searchsorted(self._cum_weights, u * self._cum_weights[-1], side="right")
        out: NDArray[np.int64] = np.minimum(users, self.n_eligible - 1).astype(np.int64)
        return out

    # ------------------------------------------------------------------ episodes

    def reset(
        self,
        rows: NDArray[np.int64],
        roots: NDArray[np.int64],
        counters: NDArray[np.int64],
        user_ids: NDArray[np.int64] | None = None,
    ) -> None:
        """Start episode ``counters`` of the streams ``roots`` in ``rows``.

        ``user_ids`` (checked by the caller to lie in ``[0, n_eligible)``) pins the users;
        ``None`` draws them.
        """
        self.roots[rows] = roots
        self.counters[rows] = counters
        self.noise_key[rows] = hash64(self.world.noise.seed, _NOISE_TAG, roots, counters).view(
            np.int64
        )
        users = self.draw_users(roots, counters) if user_ids is None else user_ids
        self.sessions.user[rows] = users
        self.session_count[rows] = 0
        self.satisfaction[rows] = self.world.config.retention.initial_satisfaction
        self.day_steps[rows] = 0
        self.day_finishes[rows] = 0
        self.episode_steps[rows] = 0
        self.over[rows] = False
        self.truncated[rows] = False
        self.history_items[rows] = -1
        self.history_feedback[rows] = 0
        self.history_listen[rows] = 0.0
        self._start_day(rows, np.zeros(len(rows), dtype=np.int64))

    def _start_day(self, rows: NDArray[np.int64], days: NDArray[np.int64]) -> None:
        """The users of ``rows`` open the app on ``days``: draw the sessions, start the first."""
        s = self.sessions
        users = s.user[rows]
        s.day[rows] = days
        window_start, window = day_window(self.world.users.registration_minute[users], days)
        u = self.world.noise.uniform("n_sessions", *self._prefix(rows), users, days)
        self.window_start[rows] = window_start
        self.window[rows] = window
        self.n_sessions[rows] = session_counts(
            self.world.users.activity[users], u, self.world.config.users
        )
        self._start_session(rows, np.zeros(len(rows), dtype=np.int64))

    def _start_session(self, rows: NDArray[np.int64], index: NDArray[np.int64]) -> None:
        """Session ``index`` of the current day starts, as the engine's ``_start_day`` sets it."""
        s = self.sessions
        users = s.user[rows]
        u = self.world.noise.uniform(
            "session_start", *self._prefix(rows), users, s.day[rows], index
        )
        start = session_start(
            self.window_start[rows], self.window[rows], self.n_sessions[rows], index, u
        )
        s.index[rows] = index
        s.step[rows] = 0
        s.clock[rows] = start.astype(np.float64) * 60.0
        s.patience[rows] = self.world.users.patience[users]
        s.consecutive_skips[rows] = 0
        s.distraction_left[rows] = 0  # a session starts undistracted
        s.session_id[rows] = self.session_count[rows]
        self.session_count[rows] += 1

    def _fold(self, rows: NDArray[np.int64], days: NDArray[np.int64]) -> None:
        """Fold each row's finish share of ``days`` into its satisfaction (days with steps)."""
        steps = self.day_steps[rows, days]
        seen = steps > 0
        if seen.any():
            r = rows[seen]
            self.satisfaction[r] = fold_satisfaction(
                self.satisfaction[r],
                self.day_finishes[r, days[seen]],
                steps[seen],
                self.world.config.retention.satisfaction_smoothing,
            )

    def _next_session(self, rows: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Move ``rows`` (whose session ended) to their next session; True where none is left."""
        s = self.sessions
        nxt = s.index[rows] + 1
        same_day = nxt < self.n_sessions[rows]
        if same_day.any():
            self._start_session(rows[same_day], nxt[same_day])
        over = np.zeros(rows.shape[0], dtype=np.bool_)
        pos = np.flatnonzero(~same_day)
        day = s.day[rows[pos]] + 1
        world = self.world
        while pos.size:
            r = rows[pos]
            # Every session that starts before `day` is over, so day - 1's steps are all in.
            self._fold(r, day - 1)
            end = day >= self.n_days
            over[pos[end]] = True
            pos, day, r = pos[~end], day[~end], r[~end]
            if not pos.size:
                break
            users = s.user[r]
            p = return_probability(world.users.activity[users], self.satisfaction[r], world.config)
            back = world.noise.uniform("return", *self._prefix(r), users, day) < p
            if back.any():
                self._start_day(r[back], day[back])
            pos, day = pos[~back], day[~back] + 1
        return over

    # ------------------------------------------------------------------ stepping

    def catalogue(self, rows: Rows) -> NDArray[np.int64]:
        """Songs released at each row's next step (``[0, n_items)`` are valid actions)."""
        day = np.minimum(clock_day(self.sessions.clock[rows]), self.n_days - 1)
        out: NDArray[np.int64] = self.n_items_by_day[day]
        return out

    def check_released(
        self, rows: Rows, actions: NDArray[np.int64], day: NDArray[np.int64] | None = None
    ) -> NDArray[np.bool_]:
        """Which ``actions`` are released songs at the rows' next step.

        Raises :class:`InvalidActionError` where one is not and ``invalid_action="raise"``.
        """
        if day is None:
            day = clock_day(self.sessions.clock[rows])
        n_items = self.n_items_by_day[day]
        valid: NDArray[np.bool_] = actions < n_items
        if self.config.invalid_action == "raise" and not valid.all():
            k = int(np.flatnonzero(~valid)[0])
            name = "action" if self.n_rows == 1 else f"actions[{int(self._all[rows][k])}]"
            raise InvalidActionError(
                f"{name} == {int(actions[k])}, must be a song released by day {int(day[k])}: "
                f"in [0, {int(n_items[k])}) (invalid_action='raise'; the released songs are "
                "the first context['n_items'] ids, the action mask)"
            )
        return valid

    def step(self, rows: Rows, actions: NDArray[np.int64]) -> StepResult:
        """Serve ``actions`` (in ``[0, n_actions)``, checked by the caller) to ``rows``.

        The rows must be in an episode (not over, not truncated). Raises
        :class:`InvalidActionError` before changing anything if ``invalid_action="raise"``
        and a song is not released yet.
        """
        cfg = self.config
        world = self.world
        s = self.sessions
        idx = self._all[rows]
        users = s.user[rows]
        clock = s.clock[rows]
        cday = clock_day(clock)
        minute = np.floor(clock / 60.0).astype(np.int64)  # before ``clock`` (a view) moves on
        valid = self.check_released(rows, actions, cday)
        all_valid = bool(valid.all())
        batch = SessionBatch(
            user=users,
            session_id=s.session_id[rows],
            day=s.day[rows],
            index=s.index[rows],
            step=s.step[rows],
            clock=clock,
            patience=s.patience[rows],
            consecutive_skips=s.consecutive_skips[rows],
            distraction_left=s.distraction_left[rows],
        )
        draws = world.noise.draws(*self._prefix(rows), *batch.keys())
        resp = world.respond(users, actions, draws, batch.distraction_left)
        listen, finish, skip = resp.listen_seconds, resp.finish, resp.skip
        like, comment, dislike = resp.like, resp.comment, resp.dislike
        finish_prob = resp.finish_prob
        if not all_valid:
            # Not released: the user skips it unheard (the noisy-skip state moves on as drawn).
            listen = np.where(valid, listen, 0.0)
            finish, like, comment = finish & valid, like & valid, comment & valid
            dislike, skip = dislike & valid, skip | ~valid
            finish_prob = np.where(valid, finish_prob, 0.0)
        seconds = world.items.seconds[actions]
        fraction = listen / seconds
        reward = fraction if cfg.reward == "listen_fraction" else finish.astype(np.float64)
        self.day_steps[idx, cday] += 1
        self.day_finishes[idx, cday] += finish
        ended = advance(
            batch,
            listen,
            skip,
            world.config.sessions,
            draws,
            resp.distraction_left,
            world.quit_hazard[users],
        )
        # A session still running at the horizon's end is cut there, as an engine run stops.
        ended = ended | (batch.clock >= self.horizon_seconds)
        s.step[rows] = batch.step
        s.clock[rows] = batch.clock
        s.patience[rows] = batch.patience
        s.consecutive_skips[rows] = batch.consecutive_skips
        s.distraction_left[rows] = batch.distraction_left
        self._remember(rows, actions, np.stack([finish, skip, like, comment, dislike], 1), fraction)
        self.episode_steps[rows] += 1
        over = np.zeros(idx.shape[0], dtype=np.bool_)
        if ended.any():
            pos = np.flatnonzero(ended)
            over[pos] = self._next_session(idx[pos])
        self.over[idx] = over
        if cfg.max_episode_steps is None:
            truncated = np.zeros(idx.shape[0], dtype=np.bool_)
        else:
            truncated = ~over & (self.episode_steps[rows] >= cfg.max_episode_steps)
        self.truncated[idx] = truncated
        return StepResult(
            item_id=actions,
            minute=minute,
            listen_seconds=listen,
            item_seconds=seconds,
            listen_fraction=fraction,
            finish=finish,
            skip=skip,
            like=like,
            comment=comment,
            dislike=dislike,
            invalid_action=~valid,
            session_ended=ended,
            true_finish_prob=finish_prob,
            true_noise_skip=resp.noise_skip,
            true_affinity=world.affinity(users, actions),
            reward=reward,
            terminated=over,
            truncated=truncated,
        )

    def _remember(
        self,
        rows: Rows,
        items: NDArray[np.int64],
        feedback: NDArray[np.bool_],
        fraction: NDArray[np.float64],
    ) -> None:
        """Push the step into the rows' recent history (oldest first, newest last)."""
        for buf, value in (
            (self.history_items, items),
            (self.history_feedback, feedback.astype(np.int8)),
            (self.history_listen, fraction.astype(np.float32)),
        ):
            buf[rows, :-1] = buf[rows, 1:]
            buf[rows, -1] = value

    # ------------------------------------------------------------------ views

    def observation(self) -> dict[str, NDArray[np.generic]]:
        """Every row's observation (new arrays; see :func:`~adasim.envs.spaces.observation_space`)."""
        s = self.sessions
        over = self.over
        context = np.empty((self.n_rows, 4), dtype=np.int64)
        context[:, 0] = np.where(over, self.n_days, s.day)
        context[:, 1] = np.where(over, 0, s.index)
        context[:, 2] = np.where(over, 0, s.step)
        context[:, 3] = self.catalogue(slice(None))
        return {
            "user": self.user_table[s.user],
            "context": context,
            "history_items": self.history_items.copy(),
            "history_feedback": self.history_feedback.copy(),
            "history_listen": self.history_listen.copy(),
        }

    def state(self, rows: Rows) -> dict[str, NDArray[np.generic]]:
        """The rows' state before their next step: the user, the catalogue, latent state."""
        s = self.sessions
        return {
            "user_id": s.user[rows],
            "n_items": self.catalogue(rows),
            "true_satisfaction": self.satisfaction[rows],
            "true_patience": s.patience[rows],
            "true_distraction_left": s.distraction_left[rows],
        }

    def action_masks(self, rows: Rows) -> NDArray[np.bool_]:
        """``(B, n_actions)``: True for the songs released at each row's next step."""
        out: NDArray[np.bool_] = np.arange(self.n_actions)[None, :] < self.catalogue(rows)[:, None]
        return out


__all__ = ["FEEDBACK", "EpisodeRows", "Rows", "StepResult", "clock_day", "episode_roots"]
