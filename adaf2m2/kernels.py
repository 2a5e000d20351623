"""Processor-independent CPU kernels: the same seed gives the same numbers on any x86-64.

torch picks its CPU kernels by the processor it runs on: ATen's vectorised kernels use
AVX-512 where the processor has it and AVX2 elsewhere, MKL's BLAS and oneDNN choose their
own code paths the same way. The paths round differently (a sum split over 16 lanes is not
a sum split over 8), and in a learning loop a difference in the last bit of one score grows
into a different recommendation, a different log and a different result. Measured on an
AVX-512 machine: the quick run's pscore differed by up to 1.9e-6 between the default
kernels and ``ATEN_CPU_CAPABILITY=avx2``.

:func:`pin_cpu_kernels` fixes every path to its AVX2 variant, which every x86-64 processor
of the last decade has, so a run gives bit-identical results on any of them. It works
through environment variables that the libraries read once, when they first compute
(not when torch is imported), so it must run before the first tensor operation of the
process; child processes inherit the variables. adasim calls it when :mod:`adaf2m2` or
:mod:`agents` is imported and at the start of the command line.

The pinning overrides whatever the environment asked for (a machine-wide
``ATEN_CPU_CAPABILITY=avx512`` included): reproducibility is the default. Set
``ADASIM_NATIVE_KERNELS=1`` to opt out and let each library choose its fastest path, at the
price of results that depend on the processor.

This module imports nothing but the standard library, so it can run before torch.
"""

from __future__ import annotations

import os
import sys
import warnings

PINNED_KERNELS: dict[str, str] = {
    # ATen's vectorised CPU kernels (reductions, activations, element-wise maths).
    "ATEN_CPU_CAPABILITY": "avx2",
    # MKL's BLAS (torch's matrix products on x86): conditional numerical reproducibility.
    # MKL honours an AVX2 branch only on Intel processors and runs its processor-dependent
    # AUTO branch elsewhere (oneMKL developer guide, "Getting Started with Conditional
    # Numerical Reproducibility"); COMPATIBLE (SSE2) is the one branch that is the same on
    # Intel and AMD. Measured on an AVX2-only AMD EPYC: the quick run's pscore differed by
    # up to 6e-7 between "AVX2" and "COMPATIBLE". STRICT removes the dependence on alignment.
    "MKL_CBWR": "COMPATIBLE,STRICT",
    # oneDNN (mkldnn) primitives that torch uses for some linear layers; both names are
    # read by the versions torch ships.
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
}
"""The environment that fixes every CPU kernel path the agents use."""

OPT_OUT = "ADASIM_NATIVE_KERNELS"
"""Set to ``1`` (or ``true``, ``yes``) to keep each library's native, processor-specific choice."""


def native_kernels_requested() -> bool:
    """Whether the user opted out of the pinning through :data:`OPT_OUT`."""
    return os.environ.get(OPT_OUT, "").strip().lower() in {"1", "true", "yes"}


def pin_cpu_kernels() -> bool:
    """Pin torch's CPU kernel paths (see the module docstring); returns whether it pinned.

    Idempotent. If torch has already computed in this process with another kernel path, the
    pinning cannot take effect any more: a warning says so (import adasim before computing
    with torch, or set the variables of :data:`PINNED_KERNELS` in the environment).
    """
    if native_kernels_requested():
        return False
    os.environ.update(PINNED_KERNELS)
    torch = sys.modules.get("torch")
    backends = getattr(torch, "backends", None)
    cpu = getattr(backends, "cpu", None)
    if cpu is not None and hasattr(cpu, "get_cpu_capability"):
        active = str(cpu.get_cpu_capability())
        if active not in {"AVX2", "DEFAULT", "NO AVX"} and "ZVECTOR" not in active:
            warnings.warn(
                f"torch already runs its {active} kernels in this process, so adasim's "
                "pinning to AVX2 (results independent of the processor) came too late: "
                "import adasim before the first torch operation",
                RuntimeWarning,
                stacklevel=2,
            )
    return True


def kernel_report() -> dict[str, str]:
    """The kernel settings in force, for a run's record: each variable and torch's ATen path."""
    report = {name: os.environ.get(name, "") for name in (*PINNED_KERNELS, OPT_OUT)}
    torch = sys.modules.get("torch")
    cpu = getattr(getattr(torch, "backends", None), "cpu", None)
    if cpu is not None and hasattr(cpu, "get_cpu_capability"):
        report["torch_cpu_capability"] = str(cpu.get_cpu_capability())
    return report


__all__ = [
    "OPT_OUT",
    "PINNED_KERNELS",
    "kernel_report",
    "native_kernels_requested",
    "pin_cpu_kernels",
]
