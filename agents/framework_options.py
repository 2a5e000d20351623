"""The AdaF²M² options of an arm: one translation, used by the agent and by the tuner."""

from __future__ import annotations

from typing import Literal

from adaf2m2.config import AdaF2M2Config
from simulator.experiment_config import ArmConfig


def framework_options(
    arm: ArmConfig, stage: Literal["ranking", "retrieval"] = "ranking"
) -> AdaF2M2Config:
    """The :class:`AdaF2M2Config` an arm's ranking (or retrieval) framework is built with.

    Both stages share the arm's ``k``, ``alpha``, ``beta``, ``gamma``, ``routing`` and
    ``aux_reduction``; only the mode differs (``framework`` or ``retrieval_framework``).
    The rules that join two options (``strict`` routing needs a mask) are checked by
    ``ArmConfig`` first, so a config error names the arm's option.

    Example:
        >>> framework_options(ArmConfig(framework="adaf2m2", routing="strict")).routing
        'strict'
        >>> framework_options(ArmConfig(retrieval_framework="mask_only"), "retrieval").mode
        'mask_only'
    """
    return AdaF2M2Config(
        mode=arm.framework if stage == "ranking" else arm.retrieval_framework,
        routing=arm.routing,
        aux_reduction=arm.aux_reduction,
        k=arm.k,
        alpha=arm.alpha,
        beta=arm.beta,
        gamma=arm.gamma,
    )
