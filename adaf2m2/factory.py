"""Build a training framework around a base model by name."""

from __future__ import annotations

from dataclasses import replace

from adaf2m2.config import FRAMEWORK_MODES, AdaF2M2Config
from adaf2m2.errors import FrameworkConfigError
from adaf2m2.framework import AdaF2M2
from adaf2m2.protocol import WrappableModel
from adaf2m2.ssl_baseline import SSLMask
from adaf2m2.trainable import PlainModel, RngLike, TrainableModel


def build_framework(
    name: str,
    base_model: WrappableModel,
    config: AdaF2M2Config | None = None,
    rng: RngLike = None,
) -> TrainableModel:
    """Wrap ``base_model`` in the framework called ``name``.

    Args:
        name: One of ``"none"`` (the bare model behind the same interface), ``"adaf2m2"``,
            ``"mask_only"``, ``"adapter_only"``, ``"ssl_mask"``. It overrides
            ``config.mode``.
        base_model: An ``nn.Module`` implementing :class:`~adaf2m2.protocol.WrappableModel`.
        config: Hyper-parameters (defaults when ``None``).
        rng: Seed of the framework's random streams.

    Returns:
        An ``nn.Module`` with ``loss(batch)`` and ``predict(batch)``.

    Raises:
        FrameworkConfigError: ``name`` is not a known framework.

    Example:
        >>> from adaf2m2.toy import ToyModel
        >>> type(build_framework("mask_only", ToyModel(), rng=0)).__name__
        'AdaF2M2'
    """
    if name not in FRAMEWORK_MODES:
        raise FrameworkConfigError(f"framework == {name!r}, must be one of {FRAMEWORK_MODES}")
    config = AdaF2M2Config() if config is None else config
    if config.mode != name:
        config = replace(config, mode=name)  # type: ignore[arg-type]
    if name == "none":
        return PlainModel(base_model, task_weights=config.task_weights)
    if name == "ssl_mask":
        return SSLMask(base_model, config, rng=rng)
    return AdaF2M2(base_model, config, rng=rng)
