"""AdaF²M² offline experiment: run the comparison, then tabulate paired RelaImpr per seed.

``agents.offline_experiment.run_offline`` (what ``adasim offline`` calls) trains every
(model, framework, seed) and reports RelaImpr of the seed-mean AUC. This script adds what
the AdaF²M² issue asks for: RelaImpr of AUC and of UAUC computed **per seed** against the
bare model of the same seed, then mean ± sample standard deviation over seeds, overall and
for new/old users and head/tail items.

Usage::

    # train (same as `adasim offline ... --out DIR`), writes DIR/offline.{md,json}
    .venv/bin/python scripts/adaf2m2_offline.py run --data sim:runs/default --out DIR
    # tables from any offline.json (also one written by `adasim offline --out DIR`)
    .venv/bin/python scripts/adaf2m2_offline.py report DIR/offline.json

RelaImpr (Yan et al. 2014): ``(AUC_fw - 0.5) / (AUC_none - 0.5) - 1``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

FRAMEWORKS = "none,adaf2m2,mask_only,adapter_only,ssl_mask"
MODELS = "fm,youtube_dnn,afn,dcnv2,eulernet"
COHORTS = ("all", "new_users", "old_users", "head_items", "tail_items")


def _rela(a: float | None, b: float | None) -> float:
    if a is None or b is None or not b > 0.5:
        return float("nan")
    return (a - 0.5) / (b - 0.5) - 1.0


def _ms(values: list[float], pct: bool = True) -> str:
    a = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if a.size == 0:
        return "-"
    scale = 100.0 if pct else 1.0
    sd = float(a.std(ddof=1)) * scale if a.size > 1 else float("nan")
    sign = "+" if pct else ""
    mean = f"{float(a.mean()) * scale:{sign}.2f}" if pct else f"{float(a.mean()):.4f}"
    sd_txt = "-" if math.isnan(sd) else (f"{sd:.2f}" if pct else f"{sd / scale:.4f}")
    return f"{mean}{'%' if pct else ''} ± {sd_txt}{'%' if pct else ''}"


def paired_table(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Markdown tables of per-seed paired RelaImpr and the numbers behind them."""
    runs = payload["runs"]
    index = {(r["model"], r["framework"], r["seed"]): r for r in runs}
    models = sorted({r["model"] for r in runs if r["framework"] != "none"})
    frameworks = [f for f in FRAMEWORKS.split(",") if any(r["framework"] == f for r in runs)]
    seeds = sorted({r["seed"] for r in runs})
    summary: dict[str, Any] = {}
    lines = [
        "| model | framework | AUC | UAUC | RelaImpr AUC | RelaImpr UAUC | "
        "RelaImpr AUC new users | old users | head items | tail items |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in models:
        for fw in frameworks:
            auc: list[float] = []
            uauc: list[float] = []
            ri: dict[str, list[float]] = {c: [] for c in (*COHORTS, "uauc")}
            for s in seeds:
                run, base = index.get((model, fw, s)), index.get((model, "none", s))
                if run is None:
                    continue
                auc.append(run["metrics"]["all"]["auc"])
                uauc.append(run["metrics"]["all"]["uauc"] or float("nan"))
                if base is None or fw == "none":
                    continue
                for c in COHORTS:
                    ri[c].append(_rela(run["metrics"][c]["auc"], base["metrics"][c]["auc"]))
                ri["uauc"].append(
                    _rela(run["metrics"]["all"]["uauc"], base["metrics"]["all"]["uauc"])
                )
            if not auc:
                continue
            summary[f"{model}/{fw}"] = {"auc": auc, "uauc": uauc, "rela_impr": ri}
            cells = [_ms(auc, pct=False), _ms(uauc, pct=False)]
            if fw == "none":
                cells += ["(reference)"] + ["-"] * 5
            else:
                cells += [_ms(ri["all"]), _ms(ri["uauc"])] + [_ms(ri[c]) for c in COHORTS[1:]]
            lines.append(f"| {model} | {fw} | " + " | ".join(cells) + " |")
    # Pooled over models: one RelaImpr per (model, seed), mean ± sd over all of them.
    pooled = [
        "",
        "| framework | RelaImpr AUC (all models × seeds) | RelaImpr UAUC | new users | old users | head items | tail items | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fw in frameworks:
        if fw == "none":
            continue
        allv: dict[str, list[float]] = {c: [] for c in (*COHORTS, "uauc")}
        for model in models:
            entry = summary.get(f"{model}/{fw}")
            if entry:
                for c, v in entry["rela_impr"].items():
                    allv[c] += v
        pooled.append(
            f"| {fw} | {_ms(allv['all'])} | {_ms(allv['uauc'])} | "
            + " | ".join(_ms(allv[c]) for c in COHORTS[1:])
            + f" | {len(allv['all'])} |"
        )
    return "\n".join(lines + pooled) + "\n", summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="train and evaluate (agents.offline_experiment)")
    run.add_argument("--data", required=True, help="sim:RUN_DIR or movielens:PATH")
    run.add_argument("--models", default=MODELS)
    run.add_argument("--framework", default=FRAMEWORKS)
    run.add_argument("--seeds", type=int, default=3)
    run.add_argument("--epochs", type=int, default=10)
    run.add_argument("--patience", type=int, default=2)
    run.add_argument("--lr", type=float, default=1e-3)
    run.add_argument("--batch-size", type=int, default=256)
    run.add_argument("--embed-dim", type=int, default=16)
    run.add_argument("--max-events", type=int, default=None)
    run.add_argument("--out", required=True)
    rep = sub.add_parser("report", help="paired RelaImpr tables from offline.json")
    rep.add_argument("json", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "run":
        import torch

        from agents.datasets import MovieLensConfig, SimDataConfig, load_movielens, load_run
        from agents.models.base import ModelConfig
        from agents.offline_experiment import run_offline
        from agents.training import TrainConfig

        torch.set_num_threads(1)
        kind, _, path = args.data.partition(":")
        if kind == "movielens":
            data = load_movielens(path, MovieLensConfig())
        elif kind == "sim":
            data = load_run(path, SimDataConfig(max_events=args.max_events))
        else:
            print(
                f"--data == {args.data!r}, must be sim:RUN_DIR or movielens:PATH", file=sys.stderr
            )
            return 2
        result = run_offline(
            data,
            models=tuple(args.models.split(",")),
            frameworks=tuple(args.framework.split(",")),
            seeds=args.seeds,
            model_config=ModelConfig(embed_dim=args.embed_dim),
            train_config=TrainConfig(
                lr=args.lr,
                batch_size=args.batch_size,
                max_epochs=args.epochs,
                patience=args.patience,
            ),
            out_dir=args.out,
            progress=False,
        )
        print(result.to_markdown())
        print(paired_table(json.loads(Path(args.out, "offline.json").read_text()))[0])
        return 0
    payload = json.loads(args.json.read_text())
    table, _ = paired_table(payload)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
