"""Training cost and serving latency of AdaF²M² and its ablations relative to the bare model.

For every base model (the toy model of ``adaf2m2.toy`` and the five paper models of
``agents.models`` when they import), the script times, side by side in one process and
interleaved round by round so that machine load hits every variant alike:

- **training step**: ``loss(batch)`` + ``backward()`` + Adam step on a batch of 256 (the
  paper's mini-batch), for ``none`` (the bare model) and each framework; AdaF²M² runs one
  unmasked forward plus ``k`` masked copies through ``head`` in one call, so the expected
  cost is about ``1 + k`` head forwards (minus the shared embedding lookup);
- **serving**: ``predict(batch)`` under ``torch.no_grad()`` on a batch of 1024 candidates;
  target for AdaF²M² (base + adapter): at most 1.10x the bare model. Two smaller adapters
  are timed beside the default one (hidden ``(64, 32)``), serving only: ``adaf2m2_h16``
  (one hidden layer of 16) and ``adaf2m2_linear`` (no hidden layer:
  ``w = sigmoid(W [r_ID, r_norm, r_count] + b)``, the cheapest adapter of the paper's
  form). The linear one is the floor: if even it costs more than 10% of a base model's
  serving, no adapter of that form can meet the target on that model.

Medians over rounds are reported, and ratios are medians of per-round ratios. Prints a
table and writes ``benchmarks/results/bench_adaf2m2.json``.

Usage::

    .venv/bin/python benchmarks/bench_adaf2m2.py            # all models, 30 rounds
    .venv/bin/python benchmarks/bench_adaf2m2.py --rounds 5 --models toy
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adaf2m2.config import AdaF2M2Config
from adaf2m2.factory import build_framework
from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch
from adaf2m2.toy import TOY_VOCAB, ToyModel, make_toy_batch

FRAMEWORKS = ("none", "adaf2m2", "mask_only", "adapter_only", "ssl_mask")
# Serving-only variants: AdaF²M² with smaller adapters (name -> adapter_hidden).
SMALLER_ADAPTERS: dict[str, tuple[int, ...]] = {"adaf2m2_h16": (16,), "adaf2m2_linear": ()}
RESULT = Path(__file__).parent / "results" / "bench_adaf2m2.json"


def _real_models(
    embed_dim: int,
) -> dict[str, tuple[Callable[[], Any], Callable[[int, int], FeatureBatch]]]:
    """The five paper models on a spec shaped like the default world (if agents imports)."""
    from agents.features import FeatureSpec
    from agents.models.base import ModelConfig
    from agents.models.registry import PAPER_MODELS, build_model
    from simulator.types import FieldSpec

    user_fields = (
        FieldSpec("user_id", "user", "id", 20_000),
        FieldSpec("age_band", "user", "meta", 7),
        FieldSpec("gender", "user", "meta", 3),
        FieldSpec("region", "user", "meta", 30),
        FieldSpec("device", "user", "meta", 4),
    )
    item_fields = (
        FieldSpec("item_id", "item", "id", 10_000),
        FieldSpec("artist_id", "item", "id", 1_000),
        FieldSpec("genre", "item", "meta", 20),
        FieldSpec("mood", "item", "meta", 10),
        FieldSpec("scene", "item", "meta", 12),
        FieldSpec("language", "item", "meta", 8),
    )
    spec = FeatureSpec.from_fields(user_fields, item_fields, n_count_buckets=16, history_len=20)
    cfg = ModelConfig(embed_dim=embed_dim, tasks=("finish",), hidden_dims=(64, 32))

    def batch(n: int, seed: int) -> FeatureBatch:
        rng = np.random.default_rng(seed)
        users = np.stack([rng.integers(0, f.vocab_size, n) for f in user_fields], axis=1)
        items = np.stack([rng.integers(0, f.vocab_size, n) for f in item_fields], axis=1)
        counts = rng.poisson(20.0, (n, len(COUNT_COLUMNS))).astype(np.float32)
        labels = (rng.random((n, 1)) < 0.4).astype(np.float32)
        hist = rng.integers(-1, 10_000, (n, spec.history_len))
        return spec.make_batch(spec.encode(users, items, counts), counts, labels, history=hist)

    def maker(name: str) -> Callable[[], Any]:
        return lambda: build_model(name, spec, cfg, torch.Generator().manual_seed(0))

    return {name: (maker(name), batch) for name in PAPER_MODELS}


def _toy() -> tuple[Callable[[], Any], Callable[[int, int], FeatureBatch]]:
    return (
        lambda: ToyModel(TOY_VOCAB, embed_dim=16, hidden=64),
        lambda n, s: make_toy_batch(n, rng=s),
    )


def _time(fn: Callable[[], object], inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def bench_model(
    make_model: Callable[[], Any],
    make_batch: Callable[[int, int], FeatureBatch],
    config: AdaF2M2Config,
    rounds: int,
    train_batch: int,
    serve_batch: int,
    inner: int,
) -> dict[str, Any]:
    """Per-framework median seconds and median per-round ratios to ``none``."""
    train_b = make_batch(train_batch, 1)
    serve_b = make_batch(serve_batch, 2)
    fws = {name: build_framework(name, make_model(), config, rng=0) for name in FRAMEWORKS}
    for name, hidden in SMALLER_ADAPTERS.items():
        small = dataclasses.replace(config, adapter_hidden=hidden)
        fws[name] = build_framework("adaf2m2", make_model(), small, rng=0)
    serve_names = FRAMEWORKS + tuple(SMALLER_ADAPTERS)
    opts = {name: torch.optim.Adam(fw.parameters(), lr=1e-3) for name, fw in fws.items()}

    def train_step(name: str) -> Callable[[], None]:
        fw, opt = fws[name], opts[name]

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            fw.loss(train_b).backward()
            opt.step()

        return step

    def serve(name: str) -> Callable[[], None]:
        fw = fws[name]

        def call() -> None:
            with torch.no_grad():
                fw.predict(serve_b)

        return call

    for name in FRAMEWORKS:  # warm-up
        train_step(name)()
    for name in serve_names:
        serve(name)()
    train_t: dict[str, list[float]] = {n: [] for n in FRAMEWORKS}
    serve_t: dict[str, list[float]] = {n: [] for n in serve_names}
    for r in range(rounds):
        order = FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]  # alternate to cancel drift
        for name in order:
            train_t[name].append(_time(train_step(name), inner))
        for name in serve_names if r % 2 == 0 else serve_names[::-1]:
            serve_t[name].append(_time(serve(name), inner * 4))
    out: dict[str, Any] = {}
    for name in serve_names:
        sv = [a / b for a, b in zip(serve_t[name], serve_t["none"], strict=True)]
        row: dict[str, Any] = {
            "serve_ms": 1e3 * statistics.median(serve_t[name]),
            "serve_ratio": statistics.median(sv),
            "serve_ratio_q25_q75": [float(np.quantile(sv, 0.25)), float(np.quantile(sv, 0.75))],
        }
        if name in train_t:
            tr = [a / b for a, b in zip(train_t[name], train_t["none"], strict=True)]
            row["train_step_ms"] = 1e3 * statistics.median(train_t[name])
            row["train_ratio"] = statistics.median(tr)
        out[name] = row
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--inner", type=int, default=3, help="calls per timing sample")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--embed-dim", type=int, default=16)
    parser.add_argument("--train-batch", type=int, default=256)
    parser.add_argument("--serve-batch", type=int, default=1024)
    parser.add_argument("--models", default="toy,fm,youtube_dnn,afn,dcnv2,eulernet")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = AdaF2M2Config(k=args.k)
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    registry: dict[str, tuple[Callable[[], Any], Callable[[int, int], FeatureBatch]]] = {
        "toy": _toy()
    }
    missing: list[str] = []
    try:
        registry.update(_real_models(args.embed_dim))
    except ImportError as exc:  # agents/models not available: toy model only
        missing.append(f"agents.models: {exc}")
    results: dict[str, Any] = {}
    header = f"{'model':<12} {'framework':<15} {'train ms':>9} {'train x':>8} {'serve ms':>9} {'serve x':>8}"
    print(header)
    print("-" * len(header))
    for model in wanted:
        if model not in registry:
            missing.append(model)
            continue
        make_model, make_batch = registry[model]
        res = bench_model(
            make_model,
            make_batch,
            config,
            args.rounds,
            args.train_batch,
            args.serve_batch,
            args.inner,
        )
        results[model] = res
        for fw, r in res.items():
            train = (
                f"{r['train_step_ms']:>9.2f} {r['train_ratio']:>7.2f}x"
                if "train_ratio" in r
                else f"{'':>9} {'':>8}"
            )
            print(f"{model:<12} {fw:<15} {train} {r['serve_ms']:>9.2f} {r['serve_ratio']:>7.2f}x")
    payload = {
        "benchmark": "bench_adaf2m2",
        "config": {
            "k": args.k,
            "embed_dim": args.embed_dim,
            "train_batch": args.train_batch,
            "serve_batch": args.serve_batch,
            "rounds": args.rounds,
            "inner": args.inner,
            "threads": torch.get_num_threads(),
        },
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu": platform.processor(),
        },
        "missing": missing,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    if missing:
        print("missing:", missing)
    print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
