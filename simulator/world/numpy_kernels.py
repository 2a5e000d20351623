"""numpy's SIMD dispatch fixed to AVX2, so the world draws the same numbers on any x86-64.

numpy picks the implementation of many functions (``exp``, ``log``, sorting, ...) at
import, by the processor: AVX-512 (``X86_V4``) where present, AVX2 (``X86_V3``) elsewhere.
The two round differently in the last bit, and in the world a last bit decides whether a
uniform draw falls below a finish probability: measured on this project's AVX-512 machine,
the quick run's events differ between the default dispatch and the AVX2 one. numpy reads its
setting once, when it is imported, so it must be in the environment before the interpreter
starts: the ``adasim`` command (:mod:`adasim.console`) restarts itself once with
:data:`NUMPY_PINNED` set, and every worker process inherits it. A library user gets the
same by starting Python with that variable (see the README's Reproducibility section);
:func:`numpy_dispatch_pinned` tells whether the running process has it.

``ADASIM_NATIVE_KERNELS=1`` (the opt-out of :mod:`adaf2m2.kernels` too) keeps numpy's native
choice. This module imports nothing but the standard library at import time.
"""

from __future__ import annotations

import os
import platform
import warnings

NUMPY_PINNED: dict[str, str] = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    # numpy's and scipy's OpenBLAS choose their kernels by processor on their own
    # (DYNAMIC_ARCH), apart from numpy's dispatch. Measured on an AVX2-only AMD EPYC: the
    # world's true_finish_prob and listen_seconds (its matrix products) and every statistic
    # of the summary differed in the last bit between the Haswell and Sandybridge kernels.
    # Haswell's are AVX2, which every processor this pinning supports has.
    "OPENBLAS_CORETYPE": "Haswell",
}
"""The environment that keeps numpy and OpenBLAS on their AVX2 code paths (x86-64 only)."""

OPT_OUT = "ADASIM_NATIVE_KERNELS"
"""The same opt-out variable as :data:`adaf2m2.kernels.OPT_OUT`."""

_AVX512_FEATURES = ("X86_V4", "AVX512_SKX", "AVX512_ICL", "AVX512_SPR")
"""numpy's AVX-512 dispatch targets (the raw AVX512F flag stays on when they are off)."""


def _opted_out() -> bool:
    return os.environ.get(OPT_OUT, "").strip().lower() in {"1", "true", "yes"}


def numpy_environment() -> dict[str, str] | None:
    """The environment to restart with so that numpy is pinned; ``None``: nothing to do.

    Nothing to do on a processor other than x86-64, after the opt-out, or when the
    environment already holds the pinned value.
    """
    if _opted_out() or platform.machine().lower() not in {"x86_64", "amd64"}:
        return None
    if all(os.environ.get(k) == v for k, v in NUMPY_PINNED.items()):
        return None
    return {**os.environ, **NUMPY_PINNED}


def numpy_dispatch_pinned() -> bool:
    """Whether numpy runs no AVX-512 code path and OpenBLAS was loaded with its pinned kernels.

    OpenBLAS reads ``OPENBLAS_CORETYPE`` when numpy loads it, so the variable of this
    process's environment tells which kernels it runs. Trivially true off x86-64.
    """
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return True
    import numpy._core._multiarray_umath as numpy_core

    features = getattr(numpy_core, "__cpu_features__", {})
    openblas = os.environ.get("OPENBLAS_CORETYPE") == NUMPY_PINNED["OPENBLAS_CORETYPE"]
    return openblas and not any(features.get(name, False) for name in _AVX512_FEATURES)


def warn_if_unpinned() -> None:
    """Warn that this process's results depend on the processor, unless pinned or opted out.

    Called where a library user starts a run without the ``adasim`` command.
    """
    if _opted_out() or numpy_dispatch_pinned():
        return
    setting = " ".join(f"{k}={v!r}" for k, v in NUMPY_PINNED.items())
    warnings.warn(
        "numpy runs its AVX-512 code paths in this process, so this run's numbers match "
        f"only machines with AVX-512; start Python with {setting} (the adasim command does "
        "it by itself) for results that are the same on any x86-64 processor",
        RuntimeWarning,
        stacklevel=3,
    )


__all__ = [
    "NUMPY_PINNED",
    "OPT_OUT",
    "numpy_dispatch_pinned",
    "numpy_environment",
    "warn_if_unpinned",
]
