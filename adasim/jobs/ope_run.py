"""Off-policy evaluation of an experiment run: the treatment, estimated from the control's log.

For every impression the control arm served during the experiment, the treatment agent as
it stood at the start of that day (the A/B run's daily checkpoint) gives its candidate set
and the probabilities it would have chosen them with. The estimators of
:mod:`analysis.ope` turn the control's log and that distribution into estimates of the
treatment's per-impression finish rate and per-session finishes and listen time.

Three references sit beside each estimate:

* **truth** (per impression): the exact expected finish rate of that treatment policy on
  the control's logged requests, ``mean_t sum_a pi_e(a | x_t) P(finish | u_t, a)``, from
  the world's ground truth: what the estimators target, without sampling error;
* **online**: what the treatment arm achieved in the A/B test (a learning policy on its
  own users, so it differs from the estimand by design; shown with its interval);
* for effects, the A/B test's absolute effect on the same metric.

Per-session values depend on how the policy changes session length, which the world can
only know by simulating: their truth is left empty, and the online value is the reference.

Part of the composition root: it loads checkpoints (agents, torch) and calls analysis.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from tqdm import tqdm

from analysis.exposure import HEAD_SHARE
from analysis.metrics import load_events
from analysis.ope import (
    OPEComparisonTable,
    OPEResults,
    ReferenceValue,
    SparseActionDist,
    compare_with_references,
    evaluate_logs,
)
from analysis.results import jsonable
from analysis.tables import load_users
from simulator.action_distribution import action_distribution_of
from simulator.config import Config, load_config
from simulator.engine.checkpoint import load_checkpoint, load_snapshot
from simulator.engine.experiment import RunLayout, build_world
from simulator.errors import ConfigError, SimulationError
from simulator.types import RequestBatch
from simulator.world.world import World


@dataclass(frozen=True)
class OPERun:
    """What :func:`evaluate_run` computed and wrote.

    Attributes:
        results: Every estimate (value and effect, round and session level, per cohort).
        comparison: Estimates against the truth and the online A/B values.
        markdown: Path of ``ope/ope.md``.
        json: Path of ``ope/ope.json``.
    """

    results: OPEResults
    comparison: OPEComparisonTable
    markdown: Path
    json: Path

    def to_pandas(self) -> pd.DataFrame:
        """The comparison with the truth and the online values, one row per estimate."""
        return self.comparison.to_pandas()

    def __str__(self) -> str:
        return str(self.comparison)

    def _repr_html_(self) -> str:
        return self.comparison._repr_html_()


def _treatment_at(layout: RunLayout, config: Config, world: World, day: int) -> Any:
    """The treatment agent as it served when ``day`` started.

    From its serving snapshot (written every day of every run), else from the A/B run's
    full checkpoint of that day (kept with ``--keep-checkpoints all``).
    """
    treatment = config.experiment.treatment
    snapshot = layout.serving(day)
    if snapshot.is_file():
        return load_snapshot(snapshot, world)
    path = (
        layout.fork()
        if day == config.experiment.pre_days
        else layout.checkpoints("ab") / f"day-{day:04d}.pkl"
    )
    if not path.is_file():
        raise SimulationError(
            f"{snapshot} is missing (and no checkpoint {path}); OPE replays the treatment "
            f"agent of every experiment day: arm {treatment!r} offered no serving snapshot, "
            "so rerun the experiment with --keep-checkpoints all"
        )
    _, extra = load_checkpoint(path, world)
    return extra["agents"][treatment]


def _no_distribution(config: Config, what: str) -> str:
    treatment = config.experiment.treatment
    return (
        f"arms.{treatment}.agent == {config.arms[treatment].agent!r} offers no action "
        f"distribution ({what}): OPE replays the treatment's action_distribution(user_ids, "
        "n_items) from its daily serving_snapshot() (a two_stage agent, or a custom agent "
        "that offers both: docs/agents.md)"
    )


def check_replayable(config: Config, layout: RunLayout, world: World) -> None:
    """The treatment offers what OPE replays, checked on its first experiment day.

    Raises:
        SimulationError: in one line, before the logs are read: the treatment left no
            serving snapshot (a built-in policy, or a custom agent without
            ``serving_snapshot()``), or its snapshot has no ``action_distribution``.
    """
    exp = config.experiment
    first = exp.pre_days
    if config.arms[exp.treatment].agent != "two_stage" and not (
        layout.serving(first).is_file() or layout.fork().is_file()
    ):
        raise SimulationError(_no_distribution(config, "the run has no serving snapshot of it"))
    agent = _treatment_at(layout, config, world, first)
    if not callable(getattr(agent, "action_distribution", None)):
        raise SimulationError(
            _no_distribution(config, f"its snapshot, a {type(agent).__name__}, has none")
        )


def treatment_distribution(
    config: Config, layout: RunLayout, world: World, log: pd.DataFrame, chunk: int = 4096
) -> SparseActionDist:
    """The treatment agent's candidates and probabilities on every logged request."""
    treatment = config.experiment.treatment
    n = len(log)
    candidates = np.full((n, config.arms[treatment].n_candidates), -1, dtype=np.int64)
    probs = np.zeros(candidates.shape, dtype=np.float64)
    days = log["day"].to_numpy()
    users = log["user_id"].to_numpy(dtype=np.int64)
    minutes = log["minute"].to_numpy(dtype=np.int64)
    sessions = log["session_id"].to_numpy(dtype=np.int64)
    steps = log["step"].to_numpy(dtype=np.int64)
    for day in np.unique(days):
        agent = _treatment_at(layout, config, world, int(day))
        if not callable(getattr(agent, "action_distribution", None)):
            raise SimulationError(
                _no_distribution(config, f"its snapshot, a {type(agent).__name__}, has none")
            )
        rows = np.flatnonzero(days == day)
        for a in range(0, rows.size, chunk):
            r = rows[a : a + chunk]
            # Requests of one minute share a catalogue; group by it within the chunk.
            for m in np.unique(minutes[r]):
                rr = r[minutes[r] == m]
                # The logged requests themselves: an agent whose candidates are drawn per
                # request (exploration slots) rebuilds exactly the ones it would have had.
                requests = RequestBatch(
                    minute=int(m),
                    day=int(day),
                    arm=treatment,
                    user_ids=users[rr],
                    session_ids=sessions[rr],
                    steps=steps[rr],
                    n_items=world.n_items_at(int(m)),
                )
                cand, p = action_distribution_of(agent, requests)
                if cand.shape[1] > candidates.shape[1]:
                    raise SimulationError(
                        f"arm {treatment!r}: action_distribution returned {cand.shape[1]} "
                        f"candidates per request, more than arms.{treatment}.n_candidates "
                        f"== {candidates.shape[1]}; set it to at least {cand.shape[1]}"
                    )
                candidates[rr, : cand.shape[1]] = cand
                probs[rr, : p.shape[1]] = p
    return SparseActionDist(candidates=candidates, probs=probs)


def true_finish_rate(
    world: World, log: pd.DataFrame, dist: SparseActionDist
) -> NDArray[np.float64]:
    """Per logged request, the exact finish probability under the evaluation policy.

    Given the world's state at logged step ``t`` (a distraction episode running or not,
    :mod:`simulator.world.behavior`), ``P(finish | x_t, a) = (1 - q_t) sigmoid(s a(u_t, a) + b)``,
    and the state does not depend on the action. ``1 - q_t`` is read off the logged
    ``true_finish_prob`` divided by ``sigmoid(s a(u_t, logged item) + b)``, so

    .. math::

        \\text{truth}_t = (1 - q_t) \\sum_a \\pi_e(a \\mid x_t)\\,\\sigma(s\\,a(u_t, a) + b).
    """
    from simulator.world.behavior import episode_start_hazard, sigmoid

    b = world.config.behavior
    users = log["user_id"].to_numpy(dtype=np.int64)
    logged = log["item_id"].to_numpy(dtype=np.int64)
    p_logged = sigmoid(b.finish_slope * world.affinity(users, logged) + b.finish_bias)
    # An underflowed p (affinity below about -25) hides the state: take it undistracted.
    undistracted = 1.0 - episode_start_hazard(
        world.users.noise_rate[users], b.noise_episode_mean_length
    )
    keep = np.divide(
        log["true_finish_prob"].to_numpy(dtype=np.float64),
        p_logged,
        out=undistracted,
        where=p_logged > 0,
    )
    keep = np.clip(keep, 0.0, 1.0)  # rounding of the ratio
    valid = dist.candidates >= 0
    cand = np.where(valid, dist.candidates, 0)
    p_cand = sigmoid(b.finish_slope * world.affinity(users[:, None], cand) + b.finish_bias)
    return keep * (np.where(valid, p_cand, 0.0) * dist.probs[:, :, 0]).sum(axis=1)


def _ratio_ci(
    num: NDArray[np.float64], den: NDArray[np.float64], z: float
) -> tuple[float, float, float]:
    """Ratio of sums over users with a delta-method interval (users are the unit)."""
    r = num.sum() / den.sum()
    n = num.size
    resid = num - r * den
    se = float(np.sqrt(resid.var(ddof=1) / n) / den.mean())
    return float(r), float(r - z * se), float(r + z * se)


def _online(events: pd.DataFrame, arm: str, z: float) -> dict[str, tuple[float, float, float]]:
    ev = events[events["arm"] == arm]
    per_user = ev.groupby("user_id").agg(
        finish=("finish", "sum"),
        listen=("listen_seconds", "sum"),
        n=("finish", "size"),
        sessions=("session_id", "nunique"),
    )
    f, n_imp = per_user["finish"].to_numpy(float), per_user["n"].to_numpy(float)
    s = per_user["sessions"].to_numpy(float)
    return {
        "finish_round": _ratio_ci(f, n_imp, z),
        "finish_session": _ratio_ci(f, s, z),
        "listen_seconds_session": _ratio_ci(per_user["listen"].to_numpy(float), s, z),
    }


def _cohort_columns(
    log: pd.DataFrame, users: pd.DataFrame, events: pd.DataFrame, config: Config
) -> pd.DataFrame:
    exp = config.experiment
    reg = users.set_index("user_id")["registration_day"]
    new_after = exp.pre_days - config.world.users.new_user_days
    log = log.copy()
    log["user_state"] = np.where(log["user_id"].map(reg).to_numpy() >= new_after, "new", "old")
    pre = events[events["day"] < exp.pre_days]["item_id"].value_counts()
    head = set(pre.index[: max(1, int(np.ceil(HEAD_SHARE * len(pre))))])
    log["item_group"] = np.where(log["item_id"].isin(head), "head", "tail")
    return log


def _replay(
    config: Config, layout: RunLayout, world: World, log: pd.DataFrame, bar: tqdm[Any]
) -> SparseActionDist:
    """:func:`treatment_distribution` one experiment day at a time, advancing ``bar``.

    Each day replays its own snapshot of the treatment agent, so splitting by day gives
    the same distribution as one call, row for row.
    """
    days = log["day"].to_numpy()
    order = np.argsort(days, kind="stable")
    parts = []
    for day in np.unique(days):
        rows = np.flatnonzero(days == day)
        bar.set_postfix_str(f"day {int(day)}")
        parts.append(treatment_distribution(config, layout, world, log.iloc[rows]))
        bar.update(1)
    if not parts:
        return treatment_distribution(config, layout, world, log)
    candidates = np.empty((len(log), parts[0].candidates.shape[1]), dtype=np.int64)
    probs = np.empty((len(log), *parts[0].probs.shape[1:]), dtype=np.float64)
    candidates[order] = np.concatenate([p.candidates for p in parts])
    probs[order] = np.concatenate([p.probs for p in parts])
    return SparseActionDist(candidates=candidates, probs=probs)


def check_bootstrap(n_bootstrap_samples: int) -> None:
    """The bootstrap count is checked before the world is built or a checkpoint read."""
    if isinstance(n_bootstrap_samples, bool) or not isinstance(n_bootstrap_samples, int):
        raise ConfigError(f"n_bootstrap_samples == {n_bootstrap_samples!r}, must be an integer")
    if n_bootstrap_samples < 1:
        raise ConfigError(f"n_bootstrap_samples == {n_bootstrap_samples}, must be >= 1")


def evaluate_run(
    run_dir: str | Path,
    n_bootstrap_samples: int = 200,
    rng: int | None = 0,
    progress: bool = False,
) -> OPERun:
    """Estimate the treatment's value from the control arm's log of a finished run.

    Writes ``ope/ope.md`` and ``ope/ope.json`` into the run directory; :func:`analyse_run`
    puts them into the report and ``summary.json``. ``ope.json`` is strict JSON: an
    undefined value (no truth for a per-session estimate, a cohort too small for an
    interval) is ``null``, as in ``summary.json``, so any JSON reader takes it.

    Args:
        run_dir: A finished run directory.
        n_bootstrap_samples: Bootstrap resamples per (reward, level, cohort).
        rng: Seed of the cross-fitting folds and the bootstrap.
        progress: Show progress bars on stderr: the replayed days (one treatment snapshot
            each, the slow part), then the estimator blocks.

    Raises:
        ConfigError: a bad argument or config (before anything is read or built).
        SimulationError: the run has not finished its A/B part, lacks a snapshot, or its
            treatment offers no action distribution (checked before the logs are read).
        AnalysisError: an event or users file is unreadable or not the contract.
    """
    check_bootstrap(n_bootstrap_samples)
    root = Path(run_dir)
    config = load_config(root / "config.toml")
    layout = RunLayout(root)
    exp = config.experiment
    if not layout.done("ab").is_file():
        raise SimulationError(f"run {root} has not finished its A/B part; run `adasim run` first")
    from adasim.registry import one_torch_thread

    # As the agents ran: the same probabilities, and no thread contention (on a busy
    # 2-core machine torch's default threads made the replay ten times slower).
    one_torch_thread()
    world = build_world(config)
    check_replayable(config, layout, world)
    events = load_events(root / "events")
    users = load_users(root / "users.parquet")
    in_exp = events["day"] >= exp.pre_days
    log = events[in_exp & (events["arm"] == exp.control)].reset_index(drop=True)
    log = _cohort_columns(log, users, events, config)
    with tqdm(
        total=int(log["day"].nunique()),
        desc="ope: replay",
        unit="day",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        dist = _replay(config, layout, world, log, bar)
    blocks: list[tqdm[Any]] = []

    def on_block(label: str, done: int, total: int) -> None:
        if not blocks:
            blocks.append(
                tqdm(
                    total=total,
                    desc="ope: estimate",
                    unit="block",
                    file=sys.stderr,
                    disable=not progress,
                )
            )
        blocks[0].set_postfix_str(label)
        blocks[0].update(1)

    results = evaluate_logs(
        log,
        dist,
        rewards=("finish",),
        session_rewards=("finish", "listen_seconds"),
        cohorts=("user_state", "item_group"),
        alpha=exp.alpha,
        n_bootstrap_samples=n_bootstrap_samples,
        rng=rng,
        on_block=on_block,
    )
    for bar in blocks:
        bar.close()
    from scipy import stats

    z = float(stats.norm.ppf(1 - exp.alpha / 2))
    truth = true_finish_rate(world, log, dist)
    logged_truth = log["true_finish_prob"].to_numpy()
    online_t = _online(events[in_exp], exp.treatment, z)
    online_c = _online(events[in_exp], exp.control, z)
    refs = [
        ReferenceValue(
            "finish", "round", "all", "value", float(truth.mean()), *online_t["finish_round"]
        ),
        ReferenceValue(
            "finish",
            "round",
            "all",
            "effect",
            float(truth.mean() - logged_truth.mean()),
            online_t["finish_round"][0] - online_c["finish_round"][0],
        ),
        ReferenceValue(
            "finish", "session", "all", "value", float("nan"), *online_t["finish_session"]
        ),
        ReferenceValue(
            "listen_seconds",
            "session",
            "all",
            "value",
            float("nan"),
            *online_t["listen_seconds_session"],
        ),
    ]
    for col in ("user_state", "item_group"):
        for value in sorted(log[col].unique()):
            sel = (log[col] == value).to_numpy()
            refs.append(
                ReferenceValue(
                    "finish", "round", f"{col}={value}", "value", float(truth[sel].mean())
                )
            )
            refs.append(
                ReferenceValue(
                    "finish",
                    "round",
                    f"{col}={value}",
                    "effect",
                    float(truth[sel].mean() - logged_truth[sel].mean()),
                )
            )
    comparison = compare_with_references(results, refs)
    out = root / "ope"
    out.mkdir(exist_ok=True)
    md = out / "ope.md"
    md.write_text(_markdown(results, comparison, len(log), exp.treatment, exp.control))
    js = out / "ope.json"
    payload: dict[str, Any] = {
        "n_rounds": len(log),
        "estimates": results.to_dicts(),
        "comparison": comparison.to_dicts(),
    }
    js.write_text(json.dumps(jsonable(payload), indent=2, allow_nan=False))
    return OPERun(results, comparison, md, js)


def _markdown(results: OPEResults, comparison: OPEComparisonTable, n: int, t: str, c: str) -> str:
    return (
        "\n\n".join(
            [
                f"# Off-policy evaluation: {t} estimated from {c}'s log",
                f"{n:,} logged impressions of the control arm during the experiment. The "
                f"evaluation policy is the {t} agent as it stood at the start of each day.",
                "## Estimates against the truth and the online A/B values",
                str(comparison),
                "## Every estimate",
                str(results),
            ]
        )
        + "\n"
    )


__all__ = [
    "HEAD_SHARE",
    "OPERun",
    "check_bootstrap",
    "check_replayable",
    "evaluate_run",
    "treatment_distribution",
    "true_finish_rate",
]
