"""The OPE truth is state-exact: it knows whether a distraction episode was running."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adasim.jobs.ope_run import true_finish_rate
from analysis.ope import SparseActionDist
from simulator.config import EngineConfig, WorldConfig
from simulator.engine.engine import Engine
from simulator.engine.eventlog import EventLog, read_events
from simulator.policies import RandomPolicy
from simulator.world.behavior import sigmoid
from simulator.world.world import World


def test_truth_of_the_logged_actions_is_the_logged_probability(tmp_path: Path) -> None:
    world = World.build(WorldConfig(n_users=500, n_items=300, new_users_per_day=20.0), 1, 3)
    log = EventLog(tmp_path, ["a"])
    engine = Engine(world, {"a": RandomPolicy()}, config=EngineConfig(progress=False), log=log)
    engine.run(1)
    engine.close()
    ev = read_events(tmp_path).to_pandas()
    n = len(ev)
    logged = ev["item_id"].to_numpy(np.int64)
    # The logging policy's own actions: the truth is the log's true_finish_prob, exactly.
    own = SparseActionDist(candidates=logged[:, None], probs=np.ones((n, 1, 1)))
    np.testing.assert_allclose(
        true_finish_rate(world, ev, own), ev["true_finish_prob"], rtol=1e-12, atol=1e-15
    )
    # Two other candidates: 0 inside an episode, (1 - h_u) * the mean sigmoid otherwise.
    cand = np.column_stack([(logged + 1) % 300, (logged + 7) % 300])
    two = SparseActionDist(candidates=cand, probs=np.full((n, 2, 1), 0.5))
    truth = true_finish_rate(world, ev, two)
    inside = ev["true_noise_skip"].to_numpy() & (ev["true_finish_prob"].to_numpy() == 0.0)
    assert inside.sum() > 10
    np.testing.assert_array_equal(truth[inside], 0.0)
    b = world.config.behavior
    users = ev["user_id"].to_numpy(np.int64)
    p = sigmoid(b.finish_slope * world.affinity(users[:, None], cand) + b.finish_bias).mean(1)
    step0 = ev["step"].to_numpy() == 0  # a session starts undistracted: factor 1 - h_u
    h = world.users.noise_rate[users] / (
        b.noise_episode_mean_length * (1 - world.users.noise_rate[users])
        + world.users.noise_rate[users]
    )
    np.testing.assert_allclose(truth[step0], ((1 - h) * p)[step0], rtol=1e-9)
