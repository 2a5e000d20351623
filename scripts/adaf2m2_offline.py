"""AdaF²M² offline experiment: run the comparison, then tabulate paired RelaImpr per seed.

``adasim.jobs.offline_run.run_offline`` (what ``adasim offline`` calls) trains every
(model, framework, seed) and reports RelaImpr of the seed-mean AUC. This script adds what
the AdaF²M² issue asks for: RelaImpr of AUC and of UAUC computed **per seed** against the
bare model of the same seed, then mean ± sample standard deviation over seeds, overall and
for new/old users and head/tail items.

Usage::

    # train (same as `adasim offline ... --out DIR`), writes DIR/offline.{md,json}
    .venv/bin/python scripts/adaf2m2_offline.py run --data sim:runs/default --out DIR
    # tables from any offline.json (also one written by `adasim offline --out DIR`)
    .venv/bin/python scripts/adaf2m2_offline.py report DIR/offline.json
    # train one AdaF²M² model and read its adapter weights out by user state (+ PNG)
    .venv/bin/python scripts/adaf2m2_offline.py weights --data sim:runs/default --out DIR

RelaImpr (Yan et al. 2014): ``(AUC_fw - 0.5) / (AUC_none - 0.5) - 1``.
"""

from __future__ import annotations

import argparse
import json
import math
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


def _load(spec: str, max_events: int | None = None) -> Any:
    from agents.datasets import MovieLensConfig, SimDataConfig, load_movielens, load_run

    kind, _, path = spec.partition(":")
    if kind == "movielens":
        return load_movielens(path, MovieLensConfig())
    if kind == "sim":
        return load_run(path, SimDataConfig(max_events=max_events))
    raise SystemExit(f"--data == {spec!r}, must be sim:RUN_DIR or movielens:PATH")


def weights(args: argparse.Namespace) -> int:
    """Train one AdaF²M²-wrapped model; mean adapter weights by user state on the test split."""
    import numpy as np
    import torch

    from adaf2m2.config import AdaF2M2Config
    from adaf2m2.framework import AdaF2M2
    from adaf2m2.trainable import torch_generator
    from adaf2m2.weights import adapter_weights_by_state
    from agents.datasets.samples import TensorSamples
    from agents.models.base import ModelConfig
    from agents.models.registry import build_model
    from agents.training import TrainConfig, fit

    torch.set_num_threads(1)
    data = _load(args.data, args.max_events)
    mcfg = ModelConfig(embed_dim=args.embed_dim)
    ss = np.random.SeedSequence(args.seed)
    init_ss, order_ss, fw_ss = ss.spawn(3)
    base = build_model(args.model, data.spec, mcfg, torch_generator(init_ss))
    fw = AdaF2M2(base, AdaF2M2Config(), rng=fw_ss)
    fitted = fit(
        fw,
        data.train,
        data.valid,
        TrainConfig(lr=args.lr, max_epochs=args.epochs, patience=args.patience),
        torch_generator(order_ss),
        tasks=mcfg.tasks,
    )
    test = TensorSamples(data.test, mcfg.tasks)
    step = 8192
    batches = [test.batch(slice(a, a + step)) for a in range(0, len(test), step)]
    names = list(data.spec.names) + (["history"] if base.n_fields > data.spec.n_fields else [])
    fw.eval()
    table = adapter_weights_by_state(
        fw, batches, data.test.new_user, data.test.counts[:, 0], field_names=names
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    head = "| field | " + " | ".join(
        f"{s} (n={n})" for s, n in zip(table.states, table.n_examples, strict=True)
    )
    rows = [head, "|" + "---|" * (len(table.states) + 1)]
    for f, name in enumerate(names):
        rows.append(
            f"| {name} | " + " | ".join(f"{x:.3f}" for x in table.mean_weights[:, f]) + " |"
        )
    md = "\n".join(rows)
    (out / "adapter_weights.md").write_text(
        f"Adapter weights by user state: model {args.model}, data `{args.data}`, seed "
        f"{args.seed}, {fitted.n_epochs} epochs (best {fitted.best_epoch}).\n\n{md}\n"
    )
    (out / "adapter_weights.json").write_text(json.dumps(table.to_dicts(), indent=2))
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    x = np.arange(len(names))
    for state, style in (("new", "o-"), ("old", "s-")):
        i = table.states.index(state)
        axes[0].plot(
            x, table.mean_weights[i], style, label=f"{state} users (n={table.n_examples[i]})"
        )
    axes[0].set_title("mean adapter weight: new vs old users")
    cmap = plt.get_cmap("viridis")
    for d in range(10):
        i = table.states.index(f"activity_d{d + 1}")
        if table.n_examples[i] > 0:
            axes[1].plot(x, table.mean_weights[i], "-", color=cmap(d / 9), label=f"d{d + 1}")
    axes[1].set_title("by user-activity decile (d1 least active)")
    for ax in axes:
        ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("w")
    fig.tight_layout()
    fig.savefig(out / "adapter_weights.png", dpi=110)
    print(table)
    print(f"wrote {out}/adapter_weights.md, .json, .png")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="train and evaluate (adasim.jobs.offline_run)")
    run.add_argument("--data", required=True, help="sim:RUN_DIR or movielens:PATH")
    run.add_argument("--models", default=MODELS)
    run.add_argument("--framework", default=FRAMEWORKS)
    run.add_argument("--seeds", default="3", help="n (seeds 0..n-1) or a comma list, e.g. 2,")
    run.add_argument("--epochs", type=int, default=10)
    run.add_argument("--patience", type=int, default=2)
    run.add_argument("--lr", type=float, default=1e-3)
    run.add_argument("--batch-size", type=int, default=256)
    run.add_argument("--embed-dim", type=int, default=16)
    run.add_argument("--max-events", type=int, default=None)
    run.add_argument("--out", required=True)
    rep = sub.add_parser("report", help="paired RelaImpr tables from offline.json")
    rep.add_argument("json", type=Path, nargs="+", help="one or more offline.json (runs merged)")
    wts = sub.add_parser("weights", help="adapter weights by user state of one trained model")
    wts.add_argument("--data", required=True)
    wts.add_argument("--model", default="dcnv2")
    wts.add_argument("--seed", type=int, default=0)
    wts.add_argument("--epochs", type=int, default=10)
    wts.add_argument("--patience", type=int, default=2)
    wts.add_argument("--lr", type=float, default=1e-3)
    wts.add_argument("--embed-dim", type=int, default=16)
    wts.add_argument("--max-events", type=int, default=None)
    wts.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "weights":
        return weights(args)
    if args.cmd == "run":
        import torch

        from adasim.jobs.offline_run import run_offline
        from agents.models.base import ModelConfig
        from agents.training import TrainConfig

        torch.set_num_threads(1)
        data = _load(args.data, args.max_events)
        result = run_offline(
            data,
            models=tuple(args.models.split(",")),
            frameworks=tuple(args.framework.split(",")),
            seeds=[int(x) for x in args.seeds.split(",") if x]
            if "," in args.seeds
            else int(args.seeds),
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
    runs: list[dict[str, Any]] = []
    for path in args.json:
        runs += json.loads(path.read_text())["runs"]
    table, _ = paired_table({"runs": runs})
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
