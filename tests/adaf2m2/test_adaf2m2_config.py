"""Tests for adaf2m2/config.py (named apart from tests/simulator/test_config.py): defaults, validation."""

from __future__ import annotations

import dataclasses
import re

import pytest

from adaf2m2.config import FRAMEWORK_MODES, AdaF2M2Config
from adaf2m2.errors import FrameworkConfigError, FrameworkError


def test_defaults_follow_the_paper() -> None:
    cfg = AdaF2M2Config()
    assert (cfg.beta, cfg.gamma, cfg.alpha) == (0.1, 0.5, 0.2)
    assert cfg.mode == "adaf2m2"
    assert cfg.mean_mask_rate == pytest.approx(0.3)
    assert set(FRAMEWORK_MODES) == {"adaf2m2", "mask_only", "adapter_only", "ssl_mask", "none"}


def test_config_is_frozen() -> None:
    cfg = AdaF2M2Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.k = 3  # type: ignore[misc]


def test_error_root_is_value_error() -> None:
    assert issubclass(FrameworkConfigError, FrameworkError)
    assert issubclass(FrameworkError, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "adaf"}, r"mode == 'adaf', must be one of"),
        ({"k": 0}, r"k == 0, must be an int >= 1"),
        ({"k": 1.5}, r"k == 1.5, must be an int >= 1"),
        ({"k": True}, r"k == True, must be an int >= 1"),
        ({"beta": -0.1}, r"beta == -0.1, must be a number in \[0, 1\]"),
        ({"gamma": 1.5}, r"gamma == 1.5, must be a number in \[0, 1\]"),
        ({"beta": 0.6, "gamma": 0.5}, r"beta == 0.6, must be <= gamma == 0.5"),
        ({"alpha": -1.0}, r"alpha == -1.0, must be finite and >= 0"),
        ({"alpha": float("nan")}, r"alpha == nan, must be finite"),
        ({"adapter_hidden": (0,)}, r"adapter_hidden == \(0,\), must be a tuple of ints >= 1"),
        ({"adapter_hidden": [8]}, r"adapter_hidden == \[8\], must be a tuple"),
        ({"adapter_init_bias": float("inf")}, r"adapter_init_bias == inf, must be finite"),
        ({"mask_init_std": -1.0}, r"mask_init_std == -1.0, must be finite and >= 0"),
        ({"task_weights": ()}, r"task_weights == \(\), must be None or a non-empty tuple"),
        ({"task_weights": (1.0, -1.0)}, r"task_weights == \(1.0, -1.0\)"),
        ({"task_weights": (0.0, 0.0)}, r"positive sum"),
        ({"ssl_temperature": 0.0}, r"ssl_temperature == 0.0, must be finite and > 0"),
        ({"ssl_weight": -0.5}, r"ssl_weight == -0.5, must be finite and >= 0"),
        ({"ssl_projection_dim": 0}, r"ssl_projection_dim == 0, must be an int >= 1"),
        ({"ssl_hidden": 2.0}, r"ssl_hidden == 2.0, must be an int >= 1"),
    ],
)
def test_invalid_config(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FrameworkConfigError, match=message) as info:
        AdaF2M2Config(**kwargs)  # type: ignore[arg-type]
    assert re.search(r"AdaF2M2Config\.", str(info.value))


def test_edge_values_are_valid() -> None:
    AdaF2M2Config(beta=0.0, gamma=0.0)
    AdaF2M2Config(beta=1.0, gamma=1.0, alpha=0.0, adapter_hidden=())
    AdaF2M2Config(task_weights=(0.0, 1.0))
