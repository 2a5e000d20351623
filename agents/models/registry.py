"""Name -> base model class and config class, and a builder that seeds the weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agents.features import FeatureSpec
from agents.models.afn import AFN, AFNConfig
from agents.models.base import BaseModel, ModelConfig
from agents.models.dcnv2 import DCNV2, DCNV2Config
from agents.models.eulernet import EulerNet, EulerNetConfig
from agents.models.fm import FM, FMConfig, Logistic, LogisticConfig
from agents.models.youtube_dnn import YouTubeDNN, YouTubeDNNConfig
from simulator.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its class and its config class."""

    cls: type[BaseModel]
    config_cls: type[ModelConfig]


MODELS: dict[str, ModelEntry] = {
    "fm": ModelEntry(FM, FMConfig),
    "youtube_dnn": ModelEntry(YouTubeDNN, YouTubeDNNConfig),
    "afn": ModelEntry(AFN, AFNConfig),
    "dcnv2": ModelEntry(DCNV2, DCNV2Config),
    "eulernet": ModelEntry(EulerNet, EulerNetConfig),
    "logistic": ModelEntry(Logistic, LogisticConfig),
}
"""Every base model; ``logistic`` is the baseline, the other five are the paper's."""

PAPER_MODELS: tuple[str, ...] = ("fm", "youtube_dnn", "afn", "dcnv2", "eulernet")


def model_names() -> tuple[str, ...]:
    """Registered names."""
    return tuple(MODELS)


def build_model(
    name: str,
    spec: FeatureSpec,
    config: ModelConfig | None = None,
    generator: torch.Generator | None = None,
) -> BaseModel:
    """Instantiate a registered model.

    Args:
        name: A key of :data:`MODELS`.
        spec: The feature spec.
        config: The model's config (its own config class, or the shared
            :class:`ModelConfig`, whose fields are then copied into the model's class).
        generator: Source of the initial weights.
    """
    if name not in MODELS:
        raise ConfigError(f"model == {name!r}, must be one of {model_names()}")
    entry = MODELS[name]
    if config is None:
        cfg = entry.config_cls()
    elif isinstance(config, entry.config_cls):
        cfg = config
    elif type(config) is ModelConfig:
        cfg = entry.config_cls(
            embed_dim=config.embed_dim,
            tasks=config.tasks,
            hidden_dims=config.hidden_dims,
            embed_init_std=config.embed_init_std,
        )
    else:
        raise ConfigError(
            f"config for {name!r} is a {type(config).__name__}, "
            f"must be {entry.config_cls.__name__} or ModelConfig"
        )
    return entry.cls(spec, cfg, generator)  # type: ignore[call-arg]


__all__ = ["MODELS", "PAPER_MODELS", "ModelEntry", "build_model", "model_names"]
