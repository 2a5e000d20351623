"""Benchmark: what MKL's COMPATIBLE branch, which the reproducibility pinning asks for, costs.

The pinning (``adaf2m2/kernels.py``) sets ``MKL_CBWR=COMPATIBLE,STRICT``. That is the one MKL
branch documented to give the same results on Intel and AMD processors: an AVX2 branch is
honoured on Intel only, and other processors run the AUTO branch instead. COMPATIBLE is
SSE2 code. The agents' time goes mostly into dense layers: in a profile of the default
agents' run, 70% of the samples were in ``Linear.forward``, the DCN-V2 ranker's cross
layers at serving. So the branch sets the speed of a run.

For each ``MKL_CBWR`` setting, this script starts a fresh Python with torch pinned as
adasim pins it (ATen AVX2, oneDNN AVX2, one thread), the setting replaced. There it times
a DCN-V2-sized dense layer: 283 inputs (17 fields x 16 plus counts), 9,000 rows, about one
serving batch of 450 requests x 20 candidates. It times the forward alone and the
forward + backward, the best of ``--repeats`` calls each. It also digests the forward's
output, which shows which settings run the same code on this machine. All settings are
measured in one invocation, so the ratios to COMPATIBLE are measured under the same load.

Run: ``.venv/bin/python benchmarks/bench_mkl_branch.py`` (``--repeats 3`` for a smoke run).
Writes ``benchmarks/results/bench_mkl_branch.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adaf2m2.kernels import PINNED_KERNELS  # noqa: E402

SETTINGS = ("COMPATIBLE,STRICT", "AVX2,STRICT", "AUTO,STRICT", "AUTO")
"""The pinned branch first, then what a faster pin could be."""

ROWS, INPUTS, OUTPUTS = 9000, 283, 283

MEASURE = """
import hashlib, json, sys, time
import torch
torch.set_num_threads(1)
rows, n_in, n_out, repeats = (int(a) for a in sys.argv[1:5])
g = torch.Generator().manual_seed(0)
x = torch.randn(rows, n_in, generator=g)
layer = torch.nn.Linear(n_in, n_out)
with torch.no_grad():
    layer.weight.copy_(torch.randn(n_out, n_in, generator=g) / n_in**0.5)
    layer.bias.copy_(torch.randn(n_out, generator=g))

def best(step):
    step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return min(times)

def forward():
    with torch.inference_mode():
        layer(x)

def forward_backward():
    layer.zero_grad(set_to_none=True)
    layer(x).sum().backward()

with torch.inference_mode():
    digest = hashlib.sha256(layer(x).numpy().tobytes()).hexdigest()[:16]
print(json.dumps({"forward_s": best(forward), "forward_backward_s": best(forward_backward),
                  "digest": digest, "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def measure(setting: str, repeats: int) -> dict[str, Any]:
    """Time the layer in a fresh process pinned as adasim pins it, with ``MKL_CBWR=setting``."""
    env = {**os.environ, **PINNED_KERNELS, "MKL_CBWR": setting, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ROWS), str(INPUTS), str(OUTPUTS), str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out: dict[str, Any] = json.loads(done.stdout)
    return {"setting": setting, **out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per measurement")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/bench_mkl_branch.json"))
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats == {args.repeats}, must be >= 1")
    rows = [measure(s, args.repeats) for s in SETTINGS]
    pinned = rows[0]
    print(f"dense layer {ROWS:,} x {INPUTS} -> {OUTPUTS}, one thread, best of {args.repeats}")
    print(f"{'MKL_CBWR':<18} {'forward ms':>10} {'fwd+bwd ms':>10} {'fwd speed-up':>12}  digest")
    for r in rows:
        r["forward_speedup_vs_pinned"] = pinned["forward_s"] / r["forward_s"]
        r["forward_backward_speedup_vs_pinned"] = (
            pinned["forward_backward_s"] / r["forward_backward_s"]
        )
        print(
            f"{r['setting']:<18} {1e3 * r['forward_s']:>10.2f} "
            f"{1e3 * r['forward_backward_s']:>10.2f} {r['forward_speedup_vs_pinned']:>11.2f}x"
            f"  {r['digest']}"
        )
    same = sorted({r["setting"] for r in rows if r["digest"] == rows[1]["digest"]})
    print(f"settings with AVX2,STRICT's output on this machine: {', '.join(same)}")
    result = {
        "benchmark": "bench_mkl_branch",
        "machine": platform.processor() or platform.machine(),
        "rows": ROWS,
        "inputs": INPUTS,
        "outputs": OUTPUTS,
        "repeats": args.repeats,
        "pinned": PINNED_KERNELS["MKL_CBWR"],
        "settings": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
