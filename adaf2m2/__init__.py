"""AdaF²M²: feature mask and state-aware adapter, a model-agnostic training framework.

Wraps any base model that exposes ``embed`` and ``head``
(:class:`adaf2m2.protocol.WrappableModel`); :func:`build_framework` builds AdaF²M², its
ablations (mask only, adapter only) and the self-supervised masking baseline by name; with
``towers`` (:class:`Tower`) the adapter is tower-wise (:class:`TowerAdapter`), so a
factorised retrieval model stays factorised.
Imports only torch and numpy. Importing it pins torch's CPU kernels to paths that give the
same numbers on any x86-64 processor (:mod:`adaf2m2.kernels`).
"""

from __future__ import annotations

from adaf2m2.adapter import StateAwareAdapter
from adaf2m2.config import FRAMEWORK_MODES, AdaF2M2Config, FrameworkMode
from adaf2m2.errors import BaseModelError, FrameworkConfigError, FrameworkError
from adaf2m2.factory import build_framework
from adaf2m2.framework import AdaF2M2, LossTensors
from adaf2m2.kernels import pin_cpu_kernels
from adaf2m2.mask import FeatureMask, repeat_k
from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch, WrappableModel
from adaf2m2.ssl_baseline import SSLMask, info_nce
from adaf2m2.tower_adapter import Tower, TowerAdapter
from adaf2m2.trainable import LossParts, PlainModel, TrainableModel, multitask_bce, torch_generator
from adaf2m2.weights import AdapterWeightsByState, adapter_weights_by_state

# Before the first torch computation of the process (importing torch computes nothing).
pin_cpu_kernels()

__all__ = [
    "COUNT_COLUMNS",
    "FRAMEWORK_MODES",
    "AdaF2M2",
    "AdaF2M2Config",
    "AdapterWeightsByState",
    "BaseModelError",
    "FeatureBatch",
    "FeatureMask",
    "FrameworkConfigError",
    "FrameworkError",
    "FrameworkMode",
    "LossParts",
    "LossTensors",
    "PlainModel",
    "SSLMask",
    "StateAwareAdapter",
    "Tower",
    "TowerAdapter",
    "TrainableModel",
    "WrappableModel",
    "adapter_weights_by_state",
    "build_framework",
    "info_nce",
    "multitask_bce",
    "pin_cpu_kernels",
    "repeat_k",
    "torch_generator",
]
