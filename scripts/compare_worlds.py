"""Compare whole worlds, each served by one agent: the agents issue's world-only comparison.

A twin world of an ``adasim run`` (``RUN/twin/control``, ``RUN/twin/treatment``) is the
world with every user on one agent. Runs of one config that differ only in their arms
share the world, its users and its random numbers, so their twin worlds compare user by
user. For each world given as ``LABEL=RUN_DIR:VARIANT`` this prints, over the
experiment's days and all its users: finish rate, duration and active days per user,
and catalogue coverage per day (min and mean, and each day's); against ``--reference``, the
paired difference per user with its one-sided 99% lower bound (normal approximation; the
finish rate's by the delta method for a ratio of sums); and against
``--coverage-reference``, the smallest daily ratio of coverages.

Usage::

    python scripts/compare_worlds.py --reference popular \\
        popular=runs/agents_B:control oracle=runs/agents_B:treatment \\
        agent=runs/agents_A:control

Writes ``--json FILE`` with the same figures if asked (``worlds``: the table's rows;
``coverage_by_day``: each world's distinct songs per day).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from adasim.jobs.run_analysis import experiment_window
from analysis.metrics import load_events, user_metrics
from analysis.tables import load_users
from simulator.config import load_config

Z_99 = 2.3263478740408408
"""One-sided 99% normal quantile."""


def world_metrics(spec: str) -> tuple[pd.DataFrame, pd.Series]:
    """Per-user metrics and the daily coverage (distinct songs shown each experiment day)
    of one twin world ``RUN_DIR:VARIANT``."""
    run, _, variant = spec.rpartition(":")
    root = Path(run)
    config = load_config(root / "config.toml")
    window = experiment_window(config)
    users = load_users(root / "users.parquet").assign(arm=variant)
    events = load_events(root / "twin" / variant / "events")
    per_user = user_metrics(events, users, window).set_index("user_id").sort_index()
    days = events[(events["day"] >= window.start_day) & (events["day"] < window.end_day)]
    daily = days.groupby("day")["item_id"].nunique()
    return per_user, daily


def lower_bound(diff: np.ndarray) -> float:
    return float(diff.mean() - Z_99 * diff.std(ddof=1) / np.sqrt(diff.size))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("worlds", nargs="+", help="LABEL=RUN_DIR:VARIANT (control or treatment)")
    p.add_argument("--reference", required=True, help="the LABEL the others are paired with")
    p.add_argument(
        "--coverage-reference",
        help="a LABEL whose daily coverage the others' is divided by, day by day (the "
        "agents issue asks for at least a quarter of the oracle's on every day)",
    )
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    worlds = dict(w.split("=", 1) for w in args.worlds)
    for option, label in (
        ("--reference", args.reference),
        ("--coverage-reference", args.coverage_reference),
    ):
        if label is not None and label not in worlds:
            p.error(f"{option} == {label!r}, must be one of {sorted(worlds)}")
    data = {label: world_metrics(spec) for label, spec in worlds.items()}
    ref = data[args.reference][0]
    rows = []
    for label, (m, daily) in data.items():
        if not m.index.equals(ref.index):
            p.error(f"{label}: its users differ from {args.reference}'s; not the same world")
        row = {
            "world": label,
            "finish_rate": m["finishes"].sum() / m["impressions"].sum(),
            "duration_per_user": m["duration"].mean(),
            "active_days_per_user": m["active_days"].mean(),
            "coverage_min": float(daily.min()),
            "coverage_mean": float(daily.mean()),
        }
        if args.coverage_reference is not None and label != args.coverage_reference:
            share = daily / data[args.coverage_reference][1]
            row["coverage_share_min"] = float(share.min())
        if label != args.reference:
            r_m, r_ref = row["finish_rate"], ref["finishes"].sum() / ref["impressions"].sum()
            lin = (m["finishes"] - r_m * m["impressions"]) / m["impressions"].mean() - (
                ref["finishes"] - r_ref * ref["impressions"]
            ) / ref["impressions"].mean()
            row["finish_rate_diff"] = r_m - r_ref
            row["finish_rate_lb99"] = (r_m - r_ref) - Z_99 * lin.std(ddof=1) / np.sqrt(len(lin))
            for col, name in (("duration", "duration"), ("active_days", "active_days")):
                d = (m[col] - ref[col]).to_numpy(dtype=np.float64)
                row[f"{name}_diff"] = float(d.mean())
                row[f"{name}_lb99"] = lower_bound(d)
        rows.append(row)
    table = pd.DataFrame(rows)
    by_day = pd.DataFrame({label: d[1] for label, d in data.items()})
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        print("\ncoverage by day (distinct songs shown)")
        print(by_day.T.to_string())
    if args.json:
        out = {"worlds": rows, "coverage_by_day": {k: v.to_dict() for k, v in by_day.items()}}
        Path(args.json).write_text(json.dumps(out, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
