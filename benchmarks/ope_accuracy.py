"""Accuracy of the seven OPE estimators over independent synthetic logs (exact truth).

For each of ``--n-logs`` logs of ``--n-rounds`` rounds from one synthetic bandit (10
actions, 50 context types, softmax behaviour policy with inverse temperature 1, evaluation
policy with 2.5), every estimator's estimate and 95% bootstrap interval; printed as a
markdown table (mean, bias, standard error of the mean, RMSE, coverage) and written to
``benchmarks/results/ope_accuracy.json``. The reward model is a 2-fold cross-fitted
per-action shrunk mean (context ignored, so DM is biased on purpose).

Usage: ``.venv/bin/python benchmarks/ope_accuracy.py [--n-logs 500] [--n-rounds 1000]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.ope import (
    ShrunkMeanRewardModel,
    SyntheticBandit,
    cross_fit_predict,
    default_estimators,
    reduce_inputs,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-logs", type=int, default=500)
    parser.add_argument("--n-rounds", type=int, default=1000)
    parser.add_argument("--n-bootstrap-samples", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "ope_accuracy.json"
    )
    args = parser.parse_args()
    bandit = SyntheticBandit.build(n_actions=10, n_context_types=50, beta=1.0, rng=20261129)
    policy = bandit.softmax_policy(2.5)
    truth = bandit.policy_value(policy)
    estimators = default_estimators()
    values: dict[str, list[float]] = {e.estimator_name: [] for e in estimators}
    covered = dict.fromkeys(values, 0)
    all_actions = np.tile(np.arange(bandit.n_actions), (args.n_rounds, 1))
    for seed in np.random.SeedSequence(args.seed).spawn(args.n_logs):
        rng = np.random.default_rng(seed)
        log = bandit.sample(args.n_rounds, rng)
        dist = bandit.action_dist(policy, log.context_type)
        fit = cross_fit_predict(
            ShrunkMeanRewardModel(), log.action, log.reward, all_actions, n_folds=2, rng=rng
        )
        inputs = reduce_inputs(
            log.reward, log.action, log.pscore, dist, None, fit.q_hat_candidates[:, :, None]
        )
        for e in estimators:
            res = e.interval_from_inputs(
                inputs, n_bootstrap_samples=args.n_bootstrap_samples, random_state=rng
            )
            values[e.estimator_name].append(res.estimate)
            covered[e.estimator_name] += int(res.ci_lower <= truth <= res.ci_upper)
    rows = {}
    print(f"truth {truth:.5f}; {args.n_logs} logs of {args.n_rounds} rounds\n")
    print("| estimator | mean | bias | standard error | RMSE | 95% intervals covering |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, vals in values.items():
        v = np.asarray(vals)
        row = {
            "mean": float(v.mean()),
            "bias": float(v.mean() - truth),
            "se": float(v.std(ddof=1) / np.sqrt(v.size)),
            "rmse": float(np.sqrt(np.mean((v - truth) ** 2))),
            "covered": covered[name],
        }
        rows[name] = row
        print(
            f"| {name} | {row['mean']:.5f} | {row['bias']:+.5f} | {row['se']:.5f} | "
            f"{row['rmse']:.5f} | {covered[name]} / {args.n_logs} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"truth": truth, "n_logs": args.n_logs, "n_rounds": args.n_rounds, "estimators": rows},
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
