"""Benchmark of analysis.ope: 1,000,000 rounds, 100 actions (Open Bandit Pipeline's scale).

Stages, each timed by wall clock (time.perf_counter) and CPU time (time.process_time):

1. data generation: a synthetic bandit, a logged sample of the behaviour policy, and the
   evaluation policy's dense ``action_dist`` of shape (n_rounds, n_actions, 1);
2. reward model: a 2-fold cross-fitted ridge model, predictions for all 100 actions
   (``estimated_rewards_by_reg_model``, shape (n_rounds, n_actions, 1));
3. the seven estimators (IPS, SNIPS, DM, DR, SNDR, Switch-DR, DR-OS), each called
   through ``estimate_policy_value`` on the dense arrays as a user of Open Bandit Pipeline
   would (every call validates and reduces its arguments), and again on one shared
   ``reduce_inputs`` (what ``evaluate_logs`` does);
4. 100-resample bootstrap intervals: each estimator's ``estimate_interval`` on its own,
   and one shared resampling for all seven.

Peak memory is the process's peak resident set size, ``resource.getrusage(RUSAGE_SELF)
.ru_maxrss`` (KiB on Linux), read after each stage: it is cumulative, so the value after
stage k is the peak over stages 1..k. Figures are printed and written to
``benchmarks/results/bench_ope.json``.

Usage: ``.venv/bin/python benchmarks/bench_ope.py [--n-rounds N] [--n-actions K]``.

No side-by-side run of Open Bandit Pipeline: obp 0.5.7 does not install here (it pins
torch==1.12, which has no wheel for Python 3.11), so only the issue's reference figures
for it (about 4.4 CPU s for the estimators, 22 more for the bootstrap, 5.9 GB) can be
quoted, from another run on this machine kind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.ope import (
    RidgeRewardModel,
    SyntheticBandit,
    bootstrap_column_means,
    cross_fit_predict,
    default_estimators,
    percentile_interval,
    reduce_inputs,
)

OBP_NOTE = (
    "not run: obp 0.5.7 pins torch==1.12 (no wheel for Python 3.11); issue 7 quotes about "
    "4.4 CPU s (estimators), 22 CPU s (bootstrap), 5.9 GB on this machine kind"
)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(label: str, fn: Callable[[], Any], figures: dict[str, Any]) -> Any:
    """Run ``fn``; record wall and CPU seconds and the peak RSS so far under ``label``."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    figures[label] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print(f"{label:<48} wall {wall:7.3f} s   cpu {cpu:7.3f} s   peak RSS {peak_rss_mb():8.1f} MB")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rounds", type=int, default=1_000_000)
    parser.add_argument("--n-actions", type=int, default=100)
    parser.add_argument("--n-bootstrap-samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "bench_ope.json"
    )
    args = parser.parse_args()
    n, k, n_boot = args.n_rounds, args.n_actions, args.n_bootstrap_samples
    rng = np.random.default_rng(args.seed)
    figures: dict[str, Any] = {}
    print(f"analysis.ope benchmark: n_rounds={n:,}, n_actions={k}, n_bootstrap_samples={n_boot}")

    def generate() -> tuple[Any, Any, Any, float]:
        bandit = SyntheticBandit.build(n_actions=k, n_context_types=1000, dim_context=5, rng=rng)
        log = bandit.sample(n, rng)
        policy = bandit.softmax_policy(2.0)
        return (
            bandit,
            log,
            bandit.action_dist(policy, log.context_type),
            bandit.policy_value(policy),
        )

    _bandit, log, action_dist, truth = timed("1 data generation", generate, figures)

    def fit_reward_model() -> np.ndarray:
        fit = cross_fit_predict(
            RidgeRewardModel(alpha=1.0),
            log.action,
            log.reward,
            np.broadcast_to(np.arange(k), (n, k)),
            context=log.context,
            n_folds=2,
            rng=rng,
        )
        return fit.q_hat_candidates[:, :, None]

    q_hat = timed("2 reward model (2-fold cross-fit ridge)", fit_reward_model, figures)
    estimators = default_estimators()
    common = {
        "reward": log.reward,
        "action": log.action,
        "pscore": log.pscore,
        "action_dist": action_dist,
        "estimated_rewards_by_reg_model": q_hat,
    }

    def seven_separate() -> dict[str, float]:
        return {e.estimator_name: e.estimate_policy_value(**common) for e in estimators}

    values = timed("3a seven estimators, separate calls", seven_separate, figures)

    def seven_shared() -> dict[str, float]:
        inputs = reduce_inputs(**common)
        return {e.estimator_name: e.estimate_from_inputs(inputs) for e in estimators}

    shared_values = timed("3b seven estimators, one shared reduction", seven_shared, figures)
    assert all(abs(values[name] - shared_values[name]) < 1e-12 for name in values)

    def intervals_separate() -> dict[str, tuple[float, float]]:
        out = {}
        for e in estimators:
            res = e.estimate_interval(**common, n_bootstrap_samples=n_boot, random_state=rng)
            out[e.estimator_name] = (res.ci_lower, res.ci_upper)
        return out

    intervals = timed(
        f"4a {n_boot}-resample bootstrap, separate calls", intervals_separate, figures
    )

    def intervals_shared() -> dict[str, tuple[float, float]]:
        inputs = reduce_inputs(**common)
        blocks = [e.round_columns(inputs) for e in estimators]
        widths = [b.shape[1] for b in blocks]
        columns = np.hstack(blocks)
        del blocks  # the stacked copy is all the bootstrap needs
        means = bootstrap_column_means(columns, n_boot, rng)
        out, start = {}, 0
        for e, width in zip(estimators, widths, strict=True):
            boot = e.combine(means[:, start : start + width])
            start += width
            out[e.estimator_name] = percentile_interval(boot, 0.05)
        return out

    timed(f"4b {n_boot}-resample bootstrap, shared resamples", intervals_shared, figures)

    print(f"\ntrue value of the evaluation policy: {truth:.5f}")
    for name, value in values.items():
        low, high = intervals[name]
        print(f"  {name:<10} {value:.5f}   95% CI [{low:.5f}, {high:.5f}]")
    result = {
        "benchmark": "bench_ope",
        "n_rounds": n,
        "n_actions": k,
        "n_bootstrap_samples": n_boot,
        "seed": args.seed,
        "memory_measure": "resource.getrusage(RUSAGE_SELF).ru_maxrss, cumulative peak after each stage",
        "stages": figures,
        "true_value": truth,
        "estimates": values,
        "intervals": intervals,
        "targets": {"seven_estimators_cpu_s": 2.0, "peak_rss_mb": 2048.0},
        "obp": OBP_NOTE,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
