"""Noisy skips in distraction episodes, with per-user rates (issue 13, item 2).

The law (:mod:`simulator.world.behavior`): user ``u`` has a rate ``r_u ~ Beta(rho kappa,
(1 - rho) kappa)``; at an undistracted step an episode starts with the hazard
``h = r / (m (1 - r) + r)`` and skips ``L = 1 + G`` songs, ``P(G >= k) = pi^k``,
``pi = 1 - 1/m``. Every band below is a two-sided 99.9% band (exact binomial where the
statistic is a count, the normal approximation for means of many independent terms).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from scipy import stats

import simulator.engine.engine as engine_module
from simulator.config import (
    BehaviorConfig,
    EngineConfig,
    SessionConfig,
    UserConfig,
    WorldConfig,
)
from simulator.engine.engine import Engine
from simulator.engine.eventlog import EventLog, read_events
from simulator.errors import ConfigError
from simulator.policies import OraclePolicy, RandomPolicy
from simulator.world.behavior import draw_response, episode_start_hazard, sigmoid
from simulator.world.noise import Noise
from simulator.world.population import draw_users
from simulator.world.sessions import SessionBatch
from simulator.world.world import World

LEVEL = 0.999
Z = float(stats.norm.ppf(0.5 + LEVEL / 2))  # 3.29
FAST = EngineConfig(progress=False, bucket_minutes=60)

# Sessions that never end early (no quit, patience never runs out, long sessions): an
# episode is cut only by the end of the run.
LONG_SESSIONS = WorldConfig(
    n_users=400,
    n_items=300,
    new_users_per_day=0.0,
    new_items_per_day=0.0,
    dim=8,
    users=UserConfig(
        patience_mean=1e9,
        patience_sigma=0.0,
        patience_activity=0.0,
        return_logit_mean=10.0,
        extra_sessions_mean=0.0,
    ),
    behavior=BehaviorConfig(noise_skip_rate=0.2),
    sessions=SessionConfig(quit_hazard=0.0, quit_activity=0.0, max_steps=150),
)


def _band(p: float, n: int) -> tuple[float, float]:
    """Exact binomial acceptance band (counts) for ``n`` Bernoulli(p) trials."""
    lo, hi = stats.binom.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2], n, p)
    return float(lo), float(hi)


def _chain(
    hazard: NDArray[np.float64],
    affinity: NDArray[np.float64],
    cfg: BehaviorConfig,
    n_steps: int,
    seed: int = 3,
) -> dict[str, NDArray[Any]]:
    """One session per row, ``n_steps`` steps, the episode state carried as the engine does.

    Returns ``(S, T)`` arrays of the response fields and of the state before and after.
    """
    n = hazard.shape[0]
    rows = np.arange(n, dtype=np.int64)
    zeros = np.zeros(n, dtype=np.int64)
    seconds = np.full(n, 200.0)
    left = zeros.copy()
    out: dict[str, list[NDArray[Any]]] = {}
    noise = Noise(seed)
    for t in range(n_steps):
        r = draw_response(
            affinity, seconds, cfg, noise.draws(rows, zeros, zeros, zeros + t), hazard, left
        )
        record = {"before": left, **vars(r)}
        for key, value in record.items():
            out.setdefault(key, []).append(value)
        left = r.distraction_left
    return {key: np.stack(v, axis=1) for key, v in out.items()}


def _expected_share(r: float, m: float, n_steps: int) -> float:
    """Expected noisy share of an ``n_steps`` session that starts undistracted.

    With ``d_t = P(no episode running before step t)``: ``P(noisy at t) = 1 - d_t (1 - h)``,
    and by the memorylessness of the geometric tail ``d_{t+1} = d_t (1 - h pi) +
    (1 - d_t)(1 - pi)``, ``d_0 = 1``.
    """
    h = float(episode_start_hazard(r, m))
    pi = 1.0 - 1.0 / m
    d, total = 1.0, 0.0
    for _ in range(n_steps):
        total += 1.0 - d * (1.0 - h)
        d = d * (1.0 - h * pi) + (1.0 - d) * (1.0 - pi)
    return total / n_steps


# ----------------------------------------------------------------------- the hazard


@pytest.mark.parametrize("m", [1.0, 1.5, 3.0, 10.0])
def test_start_hazard_gives_the_stationary_share(m: float) -> None:
    rates = np.array([0.0, 0.01, 0.1, 0.5, 0.9, 1.0])
    h = episode_start_hazard(rates, m)
    # Independently of the renewal argument of the docstring: the stationary law of the
    # chain over "songs still to skip" (truncated at K, where pi^K < 1e-9).
    pi = 1.0 - 1.0 / m
    k_max = 250
    for r, hr in zip(rates, h, strict=True):
        g = (1.0 - pi) * pi ** np.arange(k_max) if pi > 0 else np.eye(1, k_max)[0]
        trans = np.zeros((k_max, k_max))
        trans[0, 0] = 1.0 - hr
        trans[0] += hr * g
        trans[np.arange(1, k_max), np.arange(k_max - 1)] = 1.0
        vals, vecs = np.linalg.eig(trans.T)
        stat = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
        stat = stat / stat.sum()
        assert 1.0 - stat[0] * (1.0 - hr) == pytest.approx(r, abs=1e-9), (r, m)
    if m == 1.0:
        np.testing.assert_array_equal(h, rates)  # exactly today's independent draws
    assert h[0] == 0.0


def test_a_finite_session_approaches_the_stationary_share() -> None:
    # The recursion used by the per-user test converges to r (a check of the test itself).
    for r in (0.05, 0.3):
        assert _expected_share(r, 3.0, 5000) == pytest.approx(r, rel=2e-3)
        assert _expected_share(r, 3.0, 1) == pytest.approx(float(episode_start_hazard(r, 3.0)))


# ----------------------------------------------------------------------- episodes


def test_episode_lengths_are_one_plus_geometric() -> None:
    m, r = 3.0, 0.3
    cfg = BehaviorConfig(noise_skip_rate=r, noise_episode_mean_length=m)
    n_sessions, n_steps = 8000, 60
    h = np.full(n_sessions, float(episode_start_hazard(r, m)))
    c = _chain(h, np.zeros(n_sessions), cfg, n_steps)
    noisy, before, after = c["noise_skip"], c["before"], c["distraction_left"]
    start = noisy & (before == 0)
    # The state counts the episode down and every song of it is a noisy skip.
    assert noisy[before > 0].all()
    np.testing.assert_array_equal(after[before > 0], before[before > 0] - 1)
    np.testing.assert_array_equal(after[~noisy], 0)
    length = 1 + after[start]
    # The pattern: an episode that starts at step t skips exactly steps t .. t + L - 1.
    s_idx, t_idx = np.nonzero(start)
    whole = t_idx + length <= n_steps
    run = np.zeros(whole.sum(), dtype=np.int64)
    for k in range(1, int(length.max())):
        inside = t_idx[whole] + k < n_steps
        cont = np.zeros_like(inside)
        cont[inside] = before[s_idx[whole][inside], t_idx[whole][inside] + k] > 0
        run += cont & (run == k - 1)
    np.testing.assert_array_equal(1 + run, length[whole])
    n = length.size
    assert n > 40_000
    lo, hi = _band(1.0 / m, n)
    assert lo <= (length == 1).sum() <= hi, ((length == 1).sum(), lo, hi)
    # Mean of 1 + G: var(G) = pi / (1 - pi)^2 = m (m - 1).
    se = np.sqrt(m * (m - 1.0) / n)
    assert abs(length.mean() - m) < Z * se, (length.mean(), m, se)
    # The whole law: chi-square goodness of fit on 1, 2, ..., 7, >= 8.
    pi = 1.0 - 1.0 / m
    k = np.arange(1, 8)
    p = np.append((1 - pi) * pi ** (k - 1), pi**7)
    counts = np.append([(length == j).sum() for j in k], (length >= 8).sum())
    assert stats.chisquare(counts, n * p).pvalue > 1 - LEVEL


def test_mean_length_one_gives_independent_draws() -> None:
    cfg = BehaviorConfig(noise_skip_rate=0.25, noise_episode_mean_length=1.0)
    n = 50_000
    c = _chain(np.full(n, 0.25), np.zeros(n), cfg, 2)
    assert (c["distraction_left"] == 0).all()
    # Step 1 does not depend on step 0: P(noisy at 1 | noisy at 0) = 0.25.
    both = c["noise_skip"][:, 0] & c["noise_skip"][:, 1]
    lo, hi = _band(0.25, int(c["noise_skip"][:, 0].sum()))
    assert lo <= both.sum() <= hi


# ----------------------------------------------------------------------- per-user rates


def test_per_user_rates_follow_the_beta_law() -> None:
    rho, kappa = 0.15, 6.0
    cfg = WorldConfig(
        n_users=20_000,
        new_users_per_day=0.0,
        behavior=BehaviorConfig(noise_skip_rate=rho, noise_rate_concentration=kappa),
    )
    r = draw_users(cfg, 0, np.random.default_rng(0)).noise_rate
    assert stats.kstest(r, stats.beta(rho * kappa, (1 - rho) * kappa).cdf).pvalue > 1 - LEVEL
    se = np.sqrt(rho * (1 - rho) / (kappa + 1) / r.size)
    assert abs(r.mean() - rho) < Z * se


@pytest.mark.parametrize(("rho", "kappa"), [(0.1, float("inf")), (0.0, 4.0), (0.0, float("inf"))])
def test_degenerate_rates_are_constant_and_draw_nothing(rho: float, kappa: float) -> None:
    base = WorldConfig(n_users=500, new_users_per_day=0.0)
    cfg = WorldConfig(
        n_users=500,
        new_users_per_day=0.0,
        behavior=BehaviorConfig(noise_skip_rate=rho, noise_rate_concentration=kappa),
    )
    gen = np.random.default_rng(1)
    users = draw_users(cfg, 0, gen)
    assert (users.noise_rate == rho).all()
    # Nothing drawn: the generator is where the rate-free draws left it.
    ref = np.random.default_rng(1)
    draw_users(
        WorldConfig(
            n_users=500,
            new_users_per_day=0.0,
            behavior=BehaviorConfig(noise_rate_concentration=float("inf")),
        ),
        0,
        ref,
    )
    assert gen.random() == ref.random()
    # The rates come after every earlier draw: the other columns do not change.
    other = draw_users(base, 0, np.random.default_rng(1))
    np.testing.assert_array_equal(users.taste, other.taste)
    np.testing.assert_array_equal(users.patience, other.patience)


def test_zero_rate_world_has_no_noisy_skip(tmp_path: Path) -> None:
    cfg = WorldConfig(
        n_users=300, n_items=200, new_users_per_day=10.0, dim=4,
        behavior=BehaviorConfig(noise_skip_rate=0.0),
    )  # fmt: skip
    ev = _engine_events(World.build(cfg, 1, 2), RandomPolicy(), tmp_path, 1)
    assert len(ev) > 1000
    assert not ev.true_noise_skip.any()


def test_realised_share_follows_each_users_rate() -> None:
    rho, kappa, m, n_steps = 0.15, 4.0, 3.0, 300
    cfg = WorldConfig(
        n_users=3000,
        new_users_per_day=0.0,
        behavior=BehaviorConfig(
            noise_skip_rate=rho, noise_rate_concentration=kappa, noise_episode_mean_length=m
        ),
    )
    r = draw_users(cfg, 0, np.random.default_rng(4)).noise_rate
    c = _chain(episode_start_hazard(r, m), np.zeros(r.size), cfg.behavior, n_steps, seed=9)
    share = c["noise_skip"].mean(axis=1)
    grid = np.linspace(0.0, 1.0, 401)
    f_grid = np.array([_expected_share(float(g), m, n_steps) for g in grid])
    expected = np.interp(r, grid, f_grid)
    # Users are independent: the mean residual has a normal band from its own spread.
    resid = share - expected
    assert abs(resid.mean()) < Z * resid.std(ddof=1) / np.sqrt(r.size), resid.mean()
    # Between-user sd of r is sqrt(rho (1 - rho) / (kappa + 1)) = 0.16, within-user sd of a
    # share over 300 steps about sqrt(r (1 - r) (2m - 1) / 300) = 0.05: corr about 0.95.
    assert np.corrcoef(share, r)[0, 1] > 0.9
    # The population mean: E[share] = E_r[f_T(r)] (f_T the finite-session share above).
    law = stats.beta(rho * kappa, (1 - rho) * kappa)
    center = float(law.expect(lambda x: np.interp(x, grid, f_grid)))
    assert abs(share.mean() - center) < Z * share.std(ddof=1) / np.sqrt(r.size)
    assert abs(center - rho) < 0.01  # the start transient of 300-step sessions is small


# ----------------------------------------------------------------------- the ground truth


def test_noise_column_marks_exactly_the_noisy_skips() -> None:
    cfg = BehaviorConfig(noise_skip_rate=0.3)
    n, a0 = 20_000, 0.4
    h = episode_start_hazard(0.3, cfg.noise_episode_mean_length)
    c = _chain(np.full(n, float(h)), np.full(n, a0), cfg, 12)
    noisy, before = c["noise_skip"], c["before"]
    np.testing.assert_array_equal(c["skip"], ~c["finish"])
    for key in ("finish", "like", "comment", "dislike"):
        assert not (c[key] & noisy).any(), key
    assert c["skip"][noisy].all()
    assert (c["listen_seconds"][noisy] <= cfg.noise_listen_fraction * 200.0).all()
    # Non-noisy rows follow the genuine law: finish with p, genuine-skip listen bound.
    p = float(sigmoid(np.array(cfg.finish_slope * a0 + cfg.finish_bias)))
    lo, hi = _band(p, int((~noisy).sum()))
    assert lo <= c["finish"][~noisy].sum() <= hi
    genuine = ~noisy & ~c["finish"]
    assert (c["listen_seconds"][genuine] <= cfg.max_skip_fraction * sigmoid(a0) * 200.0).all()
    # true_finish_prob is the conditional probability given the state: 0 inside an episode,
    # (1 - h) p otherwise, and the drawn finishes agree with it.
    np.testing.assert_array_equal(c["finish_prob"][before > 0], 0.0)
    np.testing.assert_allclose(c["finish_prob"][before == 0], (1 - h) * p)
    lo, hi = _band((1 - h) * p, int((before == 0).sum()))
    assert lo <= c["finish"][before == 0].sum() <= hi


def _engine_events(world: World, policy: object, tmp: Path, days: int) -> pd.DataFrame:
    log = EventLog(tmp, ["a"], chunk_rows=10**6)
    e = Engine(world, {"a": policy}, config=FAST, log=log, rng=1)  # type: ignore[dict-item]
    e.run(days)
    e.close(tmp)
    return read_events(tmp).to_pandas()


def _recording_advance(record: list[dict[str, NDArray[Any]]]) -> Callable[..., Any]:
    original = engine_module.advance

    def advance(sessions: SessionBatch, *args: Any) -> Any:
        before = sessions.distraction_left.copy()
        ended = original(sessions, *args)
        record.append(
            {
                "session_id": sessions.session_id.copy(),
                "step": sessions.step - 1,
                "before": before,
                "after": sessions.distraction_left.copy(),
            }
        )
        return ended

    return advance


def test_engine_carries_the_episode_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record: list[dict[str, NDArray[Any]]] = []
    monkeypatch.setattr(engine_module, "advance", _recording_advance(record))
    world = World.build(LONG_SESSIONS, 1, 5)
    ev = _engine_events(world, RandomPolicy(), tmp_path, 1)
    st = pd.DataFrame({k: np.concatenate([r[k] for r in record]) for k in record[0]})
    df = ev.merge(st, on=["session_id", "step"], validate="one_to_one")
    assert len(df) == len(ev) > 20_000
    df = df.sort_values(["session_id", "step"]).reset_index(drop=True)
    # The state flows from step to step of each session (through every gather and
    # write-back of the engine) and starts at 0.
    same = df.session_id.to_numpy()[1:] == df.session_id.to_numpy()[:-1]
    np.testing.assert_array_equal(df.before.to_numpy()[1:][same], df.after.to_numpy()[:-1][same])
    assert (df.before[df.step == 0] == 0).all()
    noisy = df.true_noise_skip.to_numpy()
    before, after = df.before.to_numpy(), df.after.to_numpy()
    assert noisy[before > 0].all()
    np.testing.assert_array_equal(after[before > 0], before[before > 0] - 1)
    # Episode lengths in the engine's world: 1 + Geometric with mean m.
    m = LONG_SESSIONS.behavior.noise_episode_mean_length
    length = 1 + after[noisy & (before == 0)]
    lo, hi = _band(1.0 / m, length.size)
    assert length.size > 2000
    assert lo <= (length == 1).sum() <= hi
    assert abs(length.mean() - m) < Z * np.sqrt(m * (m - 1.0) / length.size)
    # The log's ground truth: a noisy row is a skip with nothing else.
    for key in ("finish", "like", "comment", "dislike"):
        assert not (df[key] & df.true_noise_skip).any(), key
    assert df.skip[df.true_noise_skip].all()
    assert (df.true_finish_prob[before > 0] == 0.0).all()


def test_episodes_do_not_depend_on_the_policy(tmp_path: Path) -> None:
    cfg = WorldConfig(n_users=800, n_items=400, new_users_per_day=40.0, dim=8)
    world = World.build(cfg, 1, 11)
    # One day: the same sessions are scheduled in both runs (satisfaction starts equal).
    a = _engine_events(world, RandomPolicy(), tmp_path / "random", 1)
    b = _engine_events(world, OraclePolicy(world, top_k=1), tmp_path / "oracle", 1)
    both = a.merge(b, on=["session_id", "step"], suffixes=("_a", "_b"))
    assert len(both) > 3000
    np.testing.assert_array_equal(both.user_id_a, both.user_id_b)
    assert (both.finish_a != both.finish_b).any()  # the policies do differ
    assert len(a) != len(b)  # and so do the sessions' lengths
    np.testing.assert_array_equal(both.true_noise_skip_a, both.true_noise_skip_b)
    # Not vacuous: episodes longer than one song are among the compared steps.
    both = both.sort_values(["session_id", "step"])
    nxt = both.groupby("session_id").true_noise_skip_a.shift(-1, fill_value=False)
    assert (both.true_noise_skip_a & nxt).sum() > 50


# ----------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"noise_rate_concentration": 0.0}, r"noise_rate_concentration == 0\.0, must be > 0"),
        ({"noise_rate_concentration": -1.0}, r"noise_rate_concentration == -1\.0"),
        ({"noise_rate_concentration": float("nan")}, r"noise_rate_concentration == nan"),
        ({"noise_episode_mean_length": 0.5}, r"noise_episode_mean_length == 0\.5, must be >= 1"),
        ({"noise_episode_mean_length": float("inf")}, r"noise_episode_mean_length == inf"),
    ],
)
def test_invalid_noise_config(kwargs: dict[str, float], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        BehaviorConfig(**kwargs)


def test_infinite_concentration_round_trips_through_toml(tmp_path: Path) -> None:
    from simulator.config import load_config

    path = tmp_path / "c.toml"
    path.write_text(
        'name = "c"\nseed = 1\n[world.behavior]\nnoise_rate_concentration = inf\n'
        "noise_skip_rate = 0.0\nnoise_episode_mean_length = 1.0\n",
        encoding="utf-8",
    )
    cfg = load_config(path)
    assert cfg.world.behavior.noise_rate_concentration == float("inf")
    again = tmp_path / "again.toml"
    again.write_text(cfg.to_toml(), encoding="utf-8")
    assert load_config(again) == cfg
    assert cfg.with_overrides(["world.behavior.noise_rate_concentration=inf"]) == cfg
