"""Offline training data: encoded samples, MovieLens and simulated-run loaders.

(Named ``datasets`` rather than ``data`` because the repository ignores ``data/`` folders,
where downloaded data sets live.)
"""

from __future__ import annotations

from agents.datasets.movielens import MovieLensConfig, load_movielens, read_tables
from agents.datasets.samples import (
    OfflineData,
    Samples,
    TensorSamples,
    split_indices,
    time_split_indices,
)
from agents.datasets.sim import SimDataConfig, load_run

__all__ = [
    "MovieLensConfig",
    "OfflineData",
    "Samples",
    "SimDataConfig",
    "TensorSamples",
    "load_movielens",
    "load_run",
    "read_tables",
    "split_indices",
    "time_split_indices",
]
