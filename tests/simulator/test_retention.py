"""``simulator.world.retention``'s module functions, row by row, give ``Retention``'s numbers.

``adasim.envs`` follows users one at a time with these functions; the engine schedules the
whole population with :class:`~simulator.world.retention.Retention`. Both must agree exactly.
"""

from __future__ import annotations

import numpy as np

from simulator.config import WorldConfig
from simulator.world.population import MINUTES_PER_DAY
from simulator.world.retention import (
    Retention,
    day_window,
    fold_satisfaction,
    return_probability,
    session_counts,
    session_start,
)
from simulator.world.world import World

CONFIG = WorldConfig(n_users=400, n_items=50, new_users_per_day=30.0, dim=4)


def test_rows_give_the_schedule_of_the_day() -> None:
    world = World.build(CONFIG, 3, 5)
    retention = Retention(world.users, CONFIG, world.noise)
    rng = np.random.default_rng(0)
    retention.satisfaction[:] = rng.random(len(world.users))
    for day in range(3):
        n_before = world.n_users_before_day(day)
        n_by_end = world.n_users_at((day + 1) * MINUTES_PER_DAY - 1)
        schedule = retention.schedule_day(day, n_before, n_by_end)
        # Row by row: who returns, how many sessions, when each starts.
        old = np.arange(n_before)
        p = return_probability(world.users.activity[old], retention.satisfaction[old], CONFIG)
        back = old[world.noise.uniform("return", old, np.full(n_before, day)) < p]
        active = np.concatenate([back, np.arange(n_before, n_by_end)])
        days = np.full(active.shape[0], day)
        start, window = day_window(world.users.registration_minute[active], days)
        n = session_counts(
            world.users.activity[active],
            world.noise.uniform("n_sessions", active, days),
            CONFIG.users,
        )
        # One row per session, each with its own day array (as an episode row has).
        row = np.repeat(np.arange(active.shape[0]), n)
        index = np.arange(row.shape[0]) - np.repeat(np.cumsum(n) - n, n)
        u_start = world.noise.uniform("session_start", active[row], days[row], index)
        starts = session_start(start[row], window[row], n[row], index, u_start)
        got = sorted(
            zip(active[row].tolist(), index.tolist(), starts.tolist(), strict=True),
            key=lambda r: (r[2], r[0], r[1]),
        )
        expected = list(
            zip(
                schedule.user.tolist(),
                schedule.index.tolist(),
                schedule.start_minute.tolist(),
                strict=True,
            )
        )
        assert got == expected
        assert (starts < (day + 1) * MINUTES_PER_DAY).all()
        assert (
            starts
            >= np.maximum(world.users.registration_minute[active[row]], day * MINUTES_PER_DAY)
        ).all()


def test_fold_satisfaction_is_end_day() -> None:
    world = World.build(CONFIG, 1, 2)
    retention = Retention(world.users, CONFIG, world.noise)
    users = np.array([0, 0, 0, 3, 3, 7])
    finish = np.array([True, False, True, False, False, True])
    before = retention.satisfaction.copy()
    retention.record(users, finish)
    retention.end_day()
    w = CONFIG.retention.satisfaction_smoothing
    expected = fold_satisfaction(before[[0, 3, 7]], np.array([2, 0, 1]), np.array([3, 2, 1]), w)
    assert retention.satisfaction[[0, 3, 7]].tolist() == expected.tolist()
    untouched = np.setdiff1d(np.arange(len(world.users)), [0, 3, 7])
    assert (retention.satisfaction[untouched] == before[untouched]).all()
