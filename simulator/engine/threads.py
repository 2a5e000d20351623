"""One torch thread, without importing torch: the engine's half of the thread pinning.

The simulator never imports torch (agents do, when an arm needs one). So that results do
not depend on how many processes share the machine (a matrix product split over threads
may round differently), and parallel runs do not oversubscribe the cores, the experiment
asks for one thread here and in every child process: torch imported later in this process
or in a child reads ``OMP_NUM_THREADS`` at start-up, and a torch already imported is set
to one thread directly. Torch's CPU kernels are pinned when ``adaf2m2`` or ``agents`` is
imported; the composition root's :func:`adasim.registry.one_torch_thread` also imports
torch and pins them at once.
"""

from __future__ import annotations

import os
import sys


def one_torch_thread() -> None:
    """Run torch on one thread, here and in child processes started from now on."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


__all__ = ["one_torch_thread"]
