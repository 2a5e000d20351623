"""Same seed, same result on any x86-64 machine: the kernel pinning wins over the environment,
and the quick run reproduces the fingerprint documented in docs/results/reproducibility.md.

A machine that passes :func:`test_quick_run_reproduces_the_documented_fingerprint` computes
the quick run bit for bit as the machine that documented it (an AVX-512 AMD EPYC), which is
the claim; the slow test checks on this machine that no kernel path the environment can ask
for changes a byte.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adaf2m2.kernels import PINNED_KERNELS
from analysis.fingerprint import fingerprint
from simulator.world.numpy_kernels import NUMPY_PINNED, numpy_environment

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results" / "reproducibility.md"
ADASIM = [sys.executable, "-m", "adasim.console"]
CAPABILITY = "import agents, torch; print(torch.backends.cpu.get_cpu_capability())"


def _env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {*PINNED_KERNELS, *NUMPY_PINNED}}
    env.pop("ADASIM_NATIVE_KERNELS", None)
    for key, value in changes.items():
        if value is not None:
            env[key] = value
    return env


def _capability(**changes: str | None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CAPABILITY], env=_env(**changes), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _has_avx512() -> bool:
    try:
        return " avx512f " in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the pinning is for x86-64")
def test_the_pinning_wins_over_the_environment() -> None:
    assert _capability() == "AVX2"
    assert _capability(ATEN_CPU_CAPABILITY="avx512") == "AVX2"
    assert _capability(ATEN_CPU_CAPABILITY="default") == "AVX2"
    if _has_avx512():  # the opt-out gives back the native, faster path
        assert _capability(ADASIM_NATIVE_KERNELS="1") == "AVX512"


def test_numpy_restart_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in NUMPY_PINNED:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("ADASIM_NATIVE_KERNELS", raising=False)
    if os.uname().machine == "x86_64":
        env = numpy_environment()
        assert env is not None
        assert all(env[k] == v for k, v in NUMPY_PINNED.items())
    monkeypatch.setenv("ADASIM_NATIVE_KERNELS", "1")
    assert numpy_environment() is None
    monkeypatch.delenv("ADASIM_NATIVE_KERNELS")
    for key, value in NUMPY_PINNED.items():
        monkeypatch.setenv(key, value)
    assert numpy_environment() is None  # already pinned: no restart


def test_make_test_pins_numpy_as_the_command_does() -> None:
    makefile = (ROOT / "Makefile").read_text()
    setting = " ".join(f'{key}="{value}"' for key, value in NUMPY_PINNED.items())
    assert f"PIN_NUMPY := {setting}\n" in makefile
    assert makefile.count("$(PIN_NUMPY) $(BIN)/python -m pytest") == 2


def documented_fingerprint() -> tuple[str, str]:
    text = DOC.read_text(encoding="utf-8")
    events = re.search(r"events\s+sha256:([0-9a-f]{64})", text)
    summary = re.search(r"summary\s+sha256:([0-9a-f]{64})", text)
    assert events, f"{DOC} has no events fingerprint"
    assert summary, f"{DOC} has no summary fingerprint"
    return events.group(1), summary.group(1)


def _quick_run(out: Path, **changes: str | None) -> None:
    done = subprocess.run(
        [*ADASIM, "run", "configs/quick.toml", "--out", str(out), "--no-progress"],
        cwd=ROOT,
        env=_env(**changes),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr


def test_quick_run_reproduces_the_documented_fingerprint(tmp_path: Path) -> None:
    # The environment asks for the AVX-512 kernels; the pinning must win.
    _quick_run(tmp_path / "quick", ATEN_CPU_CAPABILITY="avx512")
    got = fingerprint(tmp_path / "quick")
    assert (got.events, got.summary) == documented_fingerprint()
    # Checkpoints kept by default: the serving snapshots only (it was 362 MB with every day's).
    size = sum(p.stat().st_size for p in (tmp_path / "quick").rglob("*") if p.is_file())
    assert size < 50e6, f"a quick run writes {size / 1e6:.0f} MB"


KERNEL_REQUESTS = {
    "avx512_aten": {"ATEN_CPU_CAPABILITY": "avx512"},
    "default_aten": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl_auto": {"MKL_CBWR": "AUTO"},
    "onednn_avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "numpy_native": {"NPY_DISABLE_CPU_FEATURES": ""},
    "openblas_sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
}


@pytest.mark.slow
def test_event_files_are_byte_identical_whatever_kernel_the_environment_asks_for(
    tmp_path: Path,
) -> None:
    _quick_run(tmp_path / "reference")
    reference = {
        p.relative_to(tmp_path / "reference"): p.read_bytes()
        for p in sorted((tmp_path / "reference").rglob("events/*.parquet"))
    }
    assert reference
    for name, request in KERNEL_REQUESTS.items():
        _quick_run(tmp_path / name, **request)
        files = {
            p.relative_to(tmp_path / name): p.read_bytes()
            for p in sorted((tmp_path / name).rglob("events/*.parquet"))
        }
        assert files == reference, f"{name}: the environment changed the events"
