"""Benchmark: training and serving samples per second of every base model, one thread.

For each registered model (the five of the paper and the logistic baseline) and each batch
size (256 and 4096) it measures

* **training**: one Adam step on a mini-batch (``embed`` -> ``head`` -> BCE -> backward
  -> step), samples per second;
* **serving**: scoring a batch without gradients (``model(batch)`` in eval mode), samples
  per second.

The feature spec mimics ``configs/default.toml``'s world: user, item and artist ids
(20,000 / 10,000 / 2,000 rows), four user and four item meta fields and six log-bucketed
count fields (17 fields), embedding size 16, default hidden layers. Inputs are random codes
drawn once; every measurement repeats the step until ``--seconds`` have passed (after two
warm-up steps) and reports the median of three such repeats. All in one process, so the
ratios between models are measured under the same load.

Run: ``.venv/bin/python benchmarks/bench_models.py`` (``--seconds 0.2`` for a smoke run).
Writes ``benchmarks/results/bench_models.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch  # noqa: E402
from agents.features import FeatureSpec  # noqa: E402
from agents.models.base import ModelConfig  # noqa: E402
from agents.models.registry import build_model, model_names  # noqa: E402
from simulator.types import FieldSpec  # noqa: E402

BATCH_SIZES = (256, 4096)


def default_like_spec() -> FeatureSpec:
    """Fields shaped like the default world's (see the module docstring)."""
    user = [FieldSpec("user_id", "user", "id", 20_000)] + [
        FieldSpec(n, "user", "meta", k)
        for n, k in (("age_band", 7), ("gender", 3), ("region", 30), ("device", 4))
    ]
    item = [
        FieldSpec("item_id", "item", "id", 10_000),
        FieldSpec("artist_id", "item", "id", 2_000),
    ] + [
        FieldSpec(n, "item", "meta", k)
        for n, k in (("genre", 20), ("mood", 8), ("scene", 12), ("language", 6))
    ]
    return FeatureSpec.from_fields(user, item, n_count_buckets=16)


def random_batch(spec: FeatureSpec, n: int, rng: np.random.Generator) -> FeatureBatch:
    """Random in-vocabulary codes, counts and labels."""
    fields = np.stack([rng.integers(0, cap, n) for cap in spec.capacities], axis=1)
    counts = rng.poisson(5.0, (n, len(COUNT_COLUMNS))).astype(np.float32)
    labels = rng.integers(0, 2, (n, 1)).astype(np.float32)
    return spec.make_batch(fields, counts, labels)


def rate(step: Callable[[], None], n: int, seconds: float, repeats: int = 3) -> float:
    """Median samples per second of ``step`` (``n`` samples each) over ``repeats`` runs."""
    step()
    step()
    rates = []
    for _ in range(repeats):
        k = 0
        start = time.perf_counter()
        while True:
            step()
            k += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        rates.append(k * n / elapsed)
    return statistics.median(rates)


def bench(name: str, spec: FeatureSpec, batch_size: int, seconds: float) -> dict[str, float]:
    """Training and serving throughput of one model at one batch size."""
    gen = torch.Generator().manual_seed(0)
    model = build_model(name, spec, ModelConfig(), gen)
    batch = random_batch(spec, batch_size, np.random.default_rng(1))
    assert batch.labels is not None
    labels = batch.labels
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step() -> None:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()

    def serve_step() -> None:
        with torch.no_grad():
            model(batch)

    model.train()
    train = rate(train_step, batch_size, seconds)
    model.eval()
    serve = rate(serve_step, batch_size, seconds)
    n_params = sum(p.numel() for p in model.parameters())
    n_head = sum(p.numel() for p in model.head_parameters())
    return {
        "train_samples_per_s": train,
        "serve_samples_per_s": serve,
        "n_parameters": n_params,
        "n_head_parameters": n_head,
    }


def main() -> None:
    """Run the benchmark, print a table and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per repeat")
    parser.add_argument("--models", default=",".join(model_names()))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_models.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = default_like_spec()
    results: list[dict[str, object]] = []
    print(f"{'model':<12} {'batch':>6} {'train/s':>12} {'serve/s':>12} {'params':>10}")
    for name in args.models.split(","):
        for b in BATCH_SIZES:
            r = bench(name, spec, b, args.seconds)
            results.append({"model": name, "batch_size": b, **r})
            print(
                f"{name:<12} {b:>6} {r['train_samples_per_s']:>12,.0f} "
                f"{r['serve_samples_per_s']:>12,.0f} {r['n_parameters']:>10,.0f}",
                flush=True,
            )
    payload = {
        "benchmark": "bench_models",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "n_fields": spec.n_fields,
        "embed_dim": ModelConfig().embed_dim,
        "seconds_per_repeat": args.seconds,
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
