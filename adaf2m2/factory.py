"""Build a training framework around a base model by name."""

from __future__ import annotations

from dataclasses import replace

from adaf2m2.config import AUX_REDUCTIONS, FRAMEWORK_MODES, ROUTINGS, AdaF2M2Config
from adaf2m2.errors import FrameworkConfigError
from adaf2m2.framework import AdaF2M2
from adaf2m2.protocol import WrappableModel
from adaf2m2.ssl_baseline import SSLMask
from adaf2m2.tower_adapter import Tower
from adaf2m2.trainable import PlainModel, RngLike, TrainableModel


def framework_variant(name: str, config: AdaF2M2Config | None = None) -> AdaF2M2Config:
    """The config a framework name stands for: ``MODE`` or ``MODE:VALUE[:VALUE]``.

    A value after the mode is a routing (``joint``, ``strict``, ``straight_through``: modes
    with an adapter) or an auxiliary reduction (``sum``, ``mean``: modes with a mask), so an
    offline comparison can name ``adaf2m2:strict`` beside ``adaf2m2`` in one list.

    Raises:
        FrameworkConfigError: An unknown mode or value, or one the mode does not use.

    Example:
        >>> c = framework_variant("adaf2m2:strict:mean")
        >>> c.mode, c.routing, c.aux_reduction
        ('adaf2m2', 'strict', 'mean')
    """
    mode, *values = name.split(":")
    if mode not in FRAMEWORK_MODES:
        raise FrameworkConfigError(
            f"framework == {name!r}, must be one of {FRAMEWORK_MODES}, optionally with ':VALUE's"
        )
    changes: dict[str, str] = {"mode": mode}
    for value in values:
        if value in ROUTINGS and mode in ("adaf2m2", "adapter_only"):
            key = "routing"
        elif value in AUX_REDUCTIONS and mode in ("adaf2m2", "mask_only"):
            key = "aux_reduction"
        else:
            raise FrameworkConfigError(
                f"framework == {name!r}, {value!r} is not an option of mode {mode!r} (routing "
                f"{ROUTINGS} with an adapter, aux reduction {AUX_REDUCTIONS} with a mask)"
            )
        if key in changes:
            raise FrameworkConfigError(f"framework == {name!r}, names its {key} twice")
        changes[key] = value
    return replace(AdaF2M2Config() if config is None else config, **changes)  # type: ignore[arg-type]


def build_framework(
    name: str,
    base_model: WrappableModel,
    config: AdaF2M2Config | None = None,
    rng: RngLike = None,
    towers: tuple[Tower, Tower] | None = None,
) -> TrainableModel:
    """Wrap ``base_model`` in the framework called ``name``.

    Args:
        name: One of ``"none"`` (the bare model behind the same interface), ``"adaf2m2"``,
            ``"mask_only"``, ``"adapter_only"``, ``"ssl_mask"``, optionally with variant
            values (:func:`framework_variant`, e.g. ``"adaf2m2:strict"``). It overrides
            ``config.mode`` (and the options it names).
        base_model: An ``nn.Module`` implementing :class:`~adaf2m2.protocol.WrappableModel`.
        config: Hyper-parameters (defaults when ``None``).
        rng: Seed of the framework's random streams.
        towers: ``(user, item)`` sides of a factorised base model: an adapter is then
            tower-wise (:class:`~adaf2m2.tower_adapter.TowerAdapter`); frameworks without
            an adapter (``none``, ``mask_only``, ``ssl_mask``) do not use it.

    Returns:
        An ``nn.Module`` with ``loss(batch)`` and ``predict(batch)``.

    Raises:
        FrameworkConfigError: ``name`` is not a known framework or variant.

    Example:
        >>> from adaf2m2.toy import ToyModel
        >>> type(build_framework("mask_only", ToyModel(), rng=0)).__name__
        'AdaF2M2'
    """
    config = framework_variant(name, config)
    if config.mode == "none":
        return PlainModel(base_model, task_weights=config.task_weights)
    if config.mode == "ssl_mask":
        return SSLMask(base_model, config, rng=rng)
    return AdaF2M2(base_model, config, rng=rng, towers=towers)
