"""Test-wide settings: one torch thread, so tests behave the same on every machine."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch-free packages (simulator, analysis) are tested without it
    pass
