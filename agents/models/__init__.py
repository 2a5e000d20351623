"""Base recommendation models, one per file, each split into ``embed`` and ``head``.

FM, YouTube DNN, AFN, DCN-V2 and EulerNet (the paper's five) plus a logistic-regression
baseline; :func:`build_model` builds any of them by name.
"""

from __future__ import annotations

from agents.models.afn import AFN, AFNConfig
from agents.models.base import BaseModel, ModelConfig
from agents.models.dcnv2 import DCNV2, DCNV2Config
from agents.models.eulernet import EulerNet, EulerNetConfig
from agents.models.fm import FM, FMConfig, Logistic, LogisticConfig, fm_interaction
from agents.models.registry import MODELS, PAPER_MODELS, build_model, model_names
from agents.models.youtube_dnn import YouTubeDNN, YouTubeDNNConfig

__all__ = [
    "AFN",
    "DCNV2",
    "FM",
    "MODELS",
    "PAPER_MODELS",
    "AFNConfig",
    "BaseModel",
    "DCNV2Config",
    "EulerNet",
    "EulerNetConfig",
    "FMConfig",
    "Logistic",
    "LogisticConfig",
    "ModelConfig",
    "YouTubeDNN",
    "YouTubeDNNConfig",
    "build_model",
    "fm_interaction",
    "model_names",
]
